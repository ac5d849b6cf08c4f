/**
 * EC8: the co-evolution loop's bookkeeping, over a real SQLite store and the real device
 * registry, the submissions captured: a round per `Every` hard examples of one executor, one in
 * flight at a time, label then train on the same cloud executor, the next round when enough came
 * meanwhile, a refused round counted again, a failed label stage trains nothing, rounds under the
 * task's initiator (none once it is no longer configured), and the teacher chosen by the rules.
 */
import t, { type Test } from 'tap';
import path from 'node:path';
import { pino } from 'pino';
import { CoEvolution } from '../../../src/scheduler/orchestration/co-evolution.ts';
import { SchedulerStore } from '../../../src/scheduler/store.ts';
import { DeviceRegistry } from '../../../src/scheduler/devices.ts';
import type { SubmitOutcome, TaskOwner } from '../../../src/scheduler/options.ts';
import type { CustomInfo, InitiatorPolicy, TaskBasicInfo, TaskDispatchInfo, TaskResultBody } from '../../../src/protocol/index.ts';

interface Sent { basic: TaskBasicInfo; owner: TaskOwner | undefined; id: string }

function setup(t: Test, o: { refuse?: () => boolean; policies?: Record<string, InitiatorPolicy> } = {}) {
  const store = new SchedulerStore(path.join(t.testdir({}), 's'));
  t.teardown(() => store.close());
  const devices = new DeviceRegistry(store);
  const sent: Sent[] = [];
  const loop = new CoEvolution({
    store, devices, log: pino({ level: 'silent' }),
    initiators: { policyOf: (n) => o.policies?.[n] },
    submit: async (basic, owner): Promise<SubmitOutcome> => {
      if (o.refuse?.()) return { ok: false, message: 'busy' };
      const id = `round-${sent.length + 1}`;
      sent.push({ basic, owner, id });
      store.insertTask(id, basic, basic.InitiationInfo.CustomInfo as CustomInfo, 3, owner?.name ?? null);
      return { ok: true, taskId: id };
    },
  });
  const student = (id: string, algArgs: Record<string, unknown>, owner: string | null = null) => {
    store.insertTask(id, { TaskName: id, TaskType: 6, InitiationInfo: { DeviceID: 'app', CustomInfo: {} } } as unknown as TaskBasicInfo, { AlgID: 2202, AlgArgs: algArgs } as unknown as CustomInfo, 1, owner);
    store.insertSubtask({ subtaskId: `${id}.1`, taskId: id, deviceId: 'edge-1', dispatch: {} as TaskDispatchInfo, status: 1 });
  };
  const hard = (sub: string, n: number) => loop.onResult({ TaskID: sub, DeviceID: 'edge-1', DstDeviceList: [], AlgID: 2202, AlgVersion: '1.0.1', Ts: 0,
    TaskResultData: { AnalysisResult: Array.from({ length: n }, () => ({ Type: 7, ResultData: { Class: 1, Confidence: 0.2, HardExample: true } })) } } as unknown as TaskResultBody);
  const flush = () => new Promise((r) => setImmediate(r));
  devices.register({ deviceId: 'edge-1', deviceType: '1', productType: 'x', commandUrl: 'http://10.0.0.1:1' }, 1);
  devices.register({ deviceId: 'cloud-b', deviceType: '2', productType: 'x', commandUrl: 'http://10.0.0.3:1' }, 1);
  devices.register({ deviceId: 'cloud-a', deviceType: '2', productType: 'x', commandUrl: 'http://10.0.0.2:1' }, 1);
  return { store, devices, sent, loop, student, hard, flush };
}

const POLICY = { HardExampleThreshold: 0.6, CoEvolve: { TeacherAlgID: 2201, Every: 10, Epochs: 3, MinAccuracy: 0.5 } };

t.test('EC8: a round per Every hard examples, one in flight, label then train, the next when enough came', async (t) => {
  const s = setup(t);
  s.student('S', POLICY);
  s.hard('S.1', 9);
  await s.flush();
  t.equal(s.sent.length, 0, 'nine hard examples: no round yet');
  s.hard('S.1', 1);
  await s.flush();
  t.equal(s.sent.length, 1, 'the tenth starts a round');
  const label = s.sent[0]!.basic;
  const lc = label.InitiationInfo.CustomInfo as { AlgID: number; AlgArgs: { LabelSet: string }; Inputs: Array<{ DeviceID: string; StreamURL: string }> };
  t.equal(lc.AlgID, 2201, 'labelled by the teacher');
  t.strictSame(lc.Inputs, [{ DeviceID: 'cloud-a', StreamURL: 'http://10.0.0.1:1/System/Samples/hard.rds' }], 'on the first online cloud executor, over the edge\'s hard set');
  t.match(lc.AlgArgs.LabelSet, /^ce-[0-9a-f]{8}-[0-9a-f]{8}-r1$/, 'into a label set of its own');
  s.hard('S.1', 25);
  await s.flush();
  t.equal(s.sent.length, 1, 'one round in flight per executor: more hard examples wait');
  s.store.setTaskStatus('round-1', 0, null, null);
  s.loop.onStatus('round-1', 0);
  await s.flush();
  t.equal(s.sent.length, 2, 'the label stage done: the train stage');
  const train = s.sent[1]!.basic;
  t.equal(train.TaskType, 7);
  t.strictSame(train.InitiationInfo.CustomInfo, { AlgID: 2202, AlgArgs: { Epochs: 3, MinAccuracy: 0.5 }, Inputs: [{ DeviceID: 'cloud-a', StreamURL: `http://10.0.0.2:1/System/Samples/${lc.AlgArgs.LabelSet}.rds` }] }, 'the task\'s own algorithm, on the labels, on the same cloud executor');
  s.store.setTaskStatus('round-2', 0, null, null);
  s.loop.onStatus('round-2', 0);
  await s.flush();
  t.equal(s.sent.length, 3, '25 came meanwhile (≥ Every): the next round starts at once');
  t.match((s.sent[2]!.basic.InitiationInfo.CustomInfo as { AlgArgs: { LabelSet: string } }).AlgArgs.LabelSet, /-r2$/);
  // A failed label stage trains nothing; the round ends and 0 new hard examples start none.
  s.store.setTaskStatus('round-3', 4, 1, 'fetch failed');
  s.loop.onStatus('round-3', 4);
  await s.flush();
  t.equal(s.sent.length, 3, 'a failed label stage: no training');
  t.equal(s.loop.inFlight, 0);
  // The task ends: rounds still start on what it left (none here), and its loop is forgotten.
  s.loop.onStatus('S', 0);
  s.hard('S.1', 10);
  await s.flush();
  t.equal(s.sent.length, 4, 'late hard examples of an ended task are still taught');
});

t.test('EC8: a refused round counts its hard examples again; no cloud executor, no round', async (t) => {
  let refuse = true;
  const s = setup(t, { refuse: () => refuse });
  s.student('S', POLICY);
  s.hard('S.1', 10);
  await s.flush();
  t.equal(s.sent.length, 0, 'refused (busy)');
  refuse = false;
  s.hard('S.1', 1);
  await s.flush();
  t.equal(s.sent.length, 1, 'the next hard example retries: the refused ones still count');
  const t2 = setup(t);
  t2.devices.setOnline('cloud-a', false);
  t2.devices.setOnline('cloud-b', false);
  t2.student('S', POLICY);
  t2.hard('S.1', 10);
  await t2.flush();
  t.equal(t2.sent.length, 0, 'no online cloud executor: the round waits');
  t2.devices.setOnline('cloud-b', true);
  t2.hard('S.1', 1);
  await t2.flush();
  t.equal((t2.sent[0]!.basic.InitiationInfo.CustomInfo as { Inputs: Array<{ DeviceID: string }> }).Inputs[0]!.DeviceID, 'cloud-b', 'the one that came back');
  const t3 = setup(t);
  t3.student('S', { ...POLICY, CoEvolve: { ...POLICY.CoEvolve, TeacherDeviceID: 'edge-1' } });
  t3.hard('S.1', 10);
  await t3.flush();
  t.equal((t3.sent[0]!.basic.InitiationInfo.CustomInfo as { Inputs: Array<{ DeviceID: string }> }).Inputs[0]!.DeviceID, 'edge-1', 'TeacherDeviceID names it');
});

t.test('EC8: rounds run as the task\'s initiator, under its policy; none once it is gone; tasks without CoEvolve are left alone', async (t) => {
  const policies: Record<string, InitiatorPolicy> = { alice: { Sources: ['*'], AlgIDs: [2201, 2202] } };
  const s = setup(t, { policies });
  s.student('A', POLICY, 'alice');
  s.hard('A.1', 10);
  await s.flush();
  t.strictSame(s.sent[0]!.owner, { name: 'alice', policy: { Sources: ['*'], AlgIDs: [2201, 2202] } }, 'as alice, with her policy (admission reviews it)');
  delete policies.alice;
  s.student('B', POLICY, 'alice');
  s.store.insertSubtask({ subtaskId: 'B.2', taskId: 'B', deviceId: 'edge-1', dispatch: {} as TaskDispatchInfo, status: 1 });
  s.hard('B.2', 10);
  await s.flush();
  t.equal(s.sent.length, 1, 'an initiator no longer configured submits nothing');
  s.student('C', { HardExampleThreshold: 0.6 });
  s.hard('C.1', 50);
  await s.flush();
  t.equal(s.sent.length, 1, 'no CoEvolve: no round');
});
