/**
 * Cascade attacks (B.2, B.3), each a replayed idea:
 *  - Constraints.AvoidDevices is an input like any other: bounded, validated, refused naming the field;
 *  - Constraints handed down by an upper scheduler are checked again below (a lower level does not
 *    trust what it is told to honour) and DeployOn, the upper level's device, is not obeyed below;
 *  - the part of a task handed upwards carries no NotifyURL: the initiator's callback is not
 *    given to another level to call;
 *  - a device session below (a registered executor, or whoever stole its token) cannot feed a
 *    stage dispatched from above: only the upper scheduler, a node, forwards results to it.
 */
import t from 'tap';
import path from 'node:path';
import { placementWishes, AVOID_DEVICES_MAX } from '../../src/scheduler/placement/constraints.ts';
import { requestOf } from '../../src/scheduler/cascade/from-above.ts';
import { partRequest } from '../../src/scheduler/cascade/partial.ts';
import { RetinaClient } from '../../src/net/client.ts';
import { ExecutionStatus, type CustomInfo, type TaskInfo, type TaskResultBody } from '../../src/protocol/index.ts';
import { startCascade } from '../helpers/cascade-cluster.ts';
import { slowSource } from '../helpers/slow-source.ts';
import { waitFor } from '../helpers/cluster.ts';
import { defined } from '../helpers/defined.ts';

const custom: CustomInfo = { Inputs: [{ StreamURL: 'rtsp://cam/1' }], AlgType: 'frame_extraction' };

t.test('B.3: Constraints.AvoidDevices is bounded and validated, refused naming the field and what is allowed', async (t) => {
  const msg = new RegExp(`^Constraints\\.AvoidDevices: must be a list of at most ${AVOID_DEVICES_MAX} DeviceIDs \\(each 1–20 bytes\\)$`);
  for (const bad of ['lower-a', [''], ['x'.repeat(21)], [7], Array.from({ length: AVOID_DEVICES_MAX + 1 }, (_, i) => `d${i}`), { 0: 'a' }]) {
    t.match(placementWishes({ AvoidDevices: bad }, custom), { ok: false, message: msg }, `refused: ${JSON.stringify(bad).slice(0, 40)}`);
  }
  t.match(placementWishes({ AvoidDevices: ['lower-a', '设备'] }, custom), { ok: true, value: { avoid: ['lower-a', '设备'] } });
});

t.test('B.2: Constraints from above are checked again below; DeployOn is not obeyed below', async (t) => {
  const d = { TaskID: 'T.1', TaskAttr: 0, AlgModelInfo: { AlgID: 1001, AlgVersion: '1' }, InputInfo: { StreamURL: 'rtsp://cam/1' }, DstDeviceList: [],
    ExecutionCond: { ExtendedInfo: { Constraints: { Strategy: '../../etc', DeployOn: 'input-device' } } } };
  const r = requestOf(d, 'top');
  if (!r.ok) return t.fail(r.message);
  t.notOk('DeployOn' in (r.basic.Constraints ?? {}), 'the upper level\'s pinning is not carried below');
  t.match(placementWishes(r.basic.Constraints, custom), { ok: false, message: /^Constraints\.Strategy: "\.\.\/\.\.\/etc" is not a strategy/ }, 'a bad Constraint from above is refused below, naming it');
});

t.test('B.3: the part of a task handed upwards carries no NotifyURL of the initiator', async (t) => {
  const c: CustomInfo = { ...custom, NotifyURL: 'https://initiator.example/cb', Topology: { Stages: [{ Name: 'a', After: [] }, { Name: 'b', After: [] }] } };
  const part = partRequest({ TaskName: 'x', InitiationInfo: { DeviceID: 'i', CustomInfo: c } }, c, ['b'], 'lower-a', undefined);
  t.notOk(JSON.stringify(part).includes('initiator.example'), 'no callback URL goes up');
});

t.test('B.2: a device session at the lower scheduler cannot feed a stage dispatched from above; its forged result is refused and never fused', async (t) => {
  const dir = t.testdir({});
  const c = await startCascade(path.join(dir, 'cascade'), { 'lower-a': ['edge-a1'], 'lower-b': ['edge-b1'] }, { lowerArgs: (id) => (id === 'lower-b' ? ['--device-type', '2'] : []) });
  const mallory = new RetinaClient({ senderId: 'mallory' });
  const src = await slowSource(path.join(dir, 'feed.ts'), 12);
  t.teardown(async () => { src.close(); await mallory.close(); await c.stop(); });
  const lowerB = defined(c.lower.get('lower-b'), 'lower-b').url;
  const topology = { Stages: [{ Name: 'frames', After: [], AlgType: 'frame_extraction', DeviceType: '1' }, { Name: 'fuse', After: ['frames'], AlgType: 'result_fusion', DeviceType: '2' }] };
  const r = await c.client.send('POST', `${c.top.url}/System/TaskRequest/`, { TaskType: 1, TaskName: 'fed', InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: src.url }], Topology: topology, TaskFrameRate: 2 } } });
  const id = defined((r.body as { TaskID?: string }).TaskID, JSON.stringify(r.body));
  const info = async (url: string, tid: string) => ((await c.client.send('GET', `${url}/System/TaskInfo/${tid}`)).body as { TaskInfo?: TaskInfo }).TaskInfo;
  await waitFor('the fed stage running at lower-b', async () => ((await info(lowerB, `${id}.1.fuse`))?.ExecutionStatus === ExecutionStatus.Running ? true : undefined), 60_000, 250);
  // Mallory registered a device of her own at lower-b (the node token is what registers; a stolen session is the same).
  const reg = await mallory.sendDigest(`${lowerB}/System/Register`, { RegisterObject: { DeviceID: 'mallory', DeviceType: '0', ProductType: 'x' } }, 'mallory', c.token);
  mallory.setToken((reg.body as { SessionToken: string }).SessionToken);
  const results = async () => ((await c.client.send('GET', `${c.top.url}/System/TaskResult/${id}?limit=500`)).body as { TaskResultList: TaskResultBody[] }).TaskResultList;
  // A well-formed result of the feeding stage, as the real one sends them, with Mallory's content.
  const real = await waitFor('a result of the feeding stage', async () => (await results()).find((x) => x.TaskID === `${id}.1.frames`), 60_000, 250);
  const forged = await mallory.command(lowerB, { CommandType: 'task_result', CommandIdx: 1, DeviceID: 'lower-b',
    MessageBody: { ...real, DeviceID: 'mallory', TaskResultData: { AnalysisResult: [{ ResultData: { Forged: true } }] } } });
  t.match(forged, { StatusCode: '1', Message: /is not a subtask device mallory runs/ }, 'refused as a device result, not forwarded');
  const end = await waitFor('the task to end at the top', async () => { const ti = await info(c.top.url, id); return ti && ti.ExecutionStatus === ExecutionStatus.Done ? ti : undefined; }, 60_000, 250);
  t.equal(end.ExecutionStatus, ExecutionStatus.Done);
  const fused = (await results()).filter((x) => x.TaskID === `${id}.1.fuse`);
  t.ok(fused.length >= 1, `${fused.length} fused results`);
  t.notOk(JSON.stringify(fused).includes('Forged'), 'the forged result was fused into nothing');
});
