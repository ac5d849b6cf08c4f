/**
 * SB2, batch deployment: one TaskRequest deploys an algorithm on many executors — with
 * Constraints.DeployOn "input-device" each input runs on the executor its Inputs[i].DeviceID
 * names, whatever the strategy would prefer, and goes back there after a failure. A request
 * naming an executor that cannot take its input is refused naming that input.
 */
import t from 'tap';
import { pino } from 'pino';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { ExecutionStatus } from '../../src/protocol/index.ts';
import { waitFor } from '../helpers/cluster.ts';
import { fakeExecutor, type SeenCommand } from '../helpers/fake-executor.ts';

t.test('SB2: one request, one subtask on each named executor; a failed one is retried on its own executor', async (t) => {
  const seen: SeenCommand[] = [];
  const ids = ['edge-a', 'edge-b', 'edge-c', 'edge-d'];
  const fakes = await Promise.all(ids.map((id) => fakeExecutor(id, { seen })));
  const s = new Scheduler({ deviceId: 'sched', dataDir: t.testdir({}), publicUrl: 'http://127.0.0.1:1', keepaliveSec: 60, retryIntervalMs: 50, log: pino({ level: 'silent' }) });
  t.teardown(async () => { await s.close(); for (const f of fakes) f.close(); });
  for (const [i, id] of ids.entries()) {
    s.register({ DeviceID: id, DeviceType: '1', ProductType: 'fake', CommandURL: fakes[i]!.url });
    await s.refreshAlgorithms(id);
  }
  s.start();
  const request = (inputs: Array<{ DeviceID?: string; StreamURL: string }>, constraints: Record<string, unknown> = { DeployOn: 'input-device', Strategy: 'bin-packing' }) =>
    s.submit({ TaskName: 'fleet rollout', TaskType: 1, Constraints: constraints, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: inputs, AlgType: 'frame_extraction' } } });

  // Bin-packing would pile everything on one executor; the deployment puts each where it is named.
  const r = await request([{ DeviceID: 'edge-c', StreamURL: 'rtsp://cam-c/1' }, { DeviceID: 'edge-a', StreamURL: 'rtsp://cam-a/1' }, { DeviceID: 'edge-b', StreamURL: 'rtsp://cam-b/1' }]);
  if (!r.ok) throw new Error(r.message);
  const dispatches = await waitFor('three dispatches', async () => { const d = seen.filter((x) => x.type === 'task_dispatch'); return d.length >= 3 ? d : undefined; });
  const where = Object.fromEntries(dispatches.map((d) => [d.deviceId, (d.body as { TaskDispatchList: Array<{ InputInfo: { StreamURL: string } }> }).TaskDispatchList[0]?.InputInfo.StreamURL]));
  t.strictSame(where, { 'edge-c': 'rtsp://cam-c/1', 'edge-a': 'rtsp://cam-a/1', 'edge-b': 'rtsp://cam-b/1' }, 'each input on the executor it names');

  // A failure is retried on the same executor (pinned), never moved to another.
  const onB = s.store.subtasks(r.taskId).find((x) => x.device_id === 'edge-b')!;
  s.onTaskStatus({ DeviceID: 'edge-b', TaskStatusList: [{ TaskID: onB.subtask_id, ExecutionStatus: ExecutionStatus.Error, ExceptionCode: 50, ExceptionDesc: 'the algorithm crashed' }] });
  await waitFor('dispatched again', async () => (seen.filter((x) => x.type === 'task_dispatch').length >= 4 ? true : undefined), 10_000);
  const again = seen.filter((x) => x.type === 'task_dispatch')[3]!;
  t.equal(again.deviceId, 'edge-b', 'the retry went back to edge-b');
  t.equal(s.store.subtask(onB.subtask_id)?.device_id, 'edge-b');

  const refused = async (inputs: Array<{ DeviceID?: string; StreamURL: string }>, constraints?: Record<string, unknown>) => {
    const x = await request(inputs, constraints);
    return x.ok ? `accepted ${x.taskId}` : x.message;
  };
  t.match(await refused([{ DeviceID: 'edge-a', StreamURL: 'rtsp://x/1' }, { StreamURL: 'rtsp://x/2' }]),
    /^InitiationInfo\.CustomInfo\.Inputs\[1\]\.DeviceID: is required with Constraints\.DeployOn "input-device"/);
  t.match(await refused([{ DeviceID: 'edge-a', StreamURL: 'rtsp://x/1' }, { DeviceID: 'edge-z', StreamURL: 'rtsp://x/2' }]),
    /^InitiationInfo\.CustomInfo\.Inputs\[1\]\.DeviceID: edge-z cannot take it \(no such executor\)/);
  s.unregister('edge-d');
  t.match(await refused([{ DeviceID: 'edge-d', StreamURL: 'rtsp://x/1' }]), /^InitiationInfo\.CustomInfo\.Inputs\[0\]\.DeviceID: edge-d cannot take it \(edge-d: offline\)/, 'an offline executor is named with the reason');
  t.match(await refused([{ DeviceID: 'edge-a', StreamURL: 'rtsp://x/1' }], { DeployOn: 'everywhere' }), /^Constraints\.DeployOn: "everywhere" is not a deployment/);
});
