/**
 * Cascade, bottom-up (Annex B.3 step 4) across real processes: assisted scheduling of PART of a
 * request. An initiator submits a two-stage task to lower-a; one stage can run on lower-a's own
 * executor, the other asks for DeviceType 2 (a cloud-level site), which only lower-b is. lower-a
 * runs the first stage itself and hands only the second to the top (naming itself in
 * Constraints.AvoidDevices), and the initiator still deals with one task at lower-a: its TaskInfo
 * shows both parts, every result of both reaches its NotifyURL through lower-a exactly once, and
 * a stop at lower-a stops both parts.
 */
import t from 'tap';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { waitFor } from '../helpers/cluster.ts';
import { initiator, startCascade, type CascadeCluster } from '../helpers/cascade-cluster.ts';
import { slowSource } from '../helpers/slow-source.ts';
import { makeSampleClip } from '../../src/demo.ts';
import { Control, ExecutionStatus, imageInfoPts, type TaskInfo, type TaskResultBody } from '../../src/protocol/index.ts';
import { defined } from '../helpers/defined.ts';

/** Two independent stages over the same input: one any edge executor runs, one only a cloud-level site (DeviceType 2) may. */
const TOPOLOGY = { Stages: [{ Name: 'edge', After: [], AlgType: 'frame_extraction' }, { Name: 'cloud', After: [], AlgType: 'frame_extraction', DeviceType: '2' }] };
let c: CascadeCluster;
/** Media of the tests (a subtest's own testdir would be named after its long title: too long a path). */
let media: string;

t.before(async () => {
  media = t.testdir({});
  // lower-b registers upwards as a cloud-level site (DeviceType 2); lower-a as an edge-level one.
  c = await startCascade(path.join(media, 'cascade'), { 'lower-a': ['edge-a1'], 'lower-b': ['edge-b1'] }, { lowerArgs: (id) => (id === 'lower-b' ? ['--device-type', '2'] : []) });
});
t.teardown(() => c?.stop());

const lowerA = () => defined(c.lower.get('lower-a'), 'lower-a').url;
const lowerB = () => defined(c.lower.get('lower-b'), 'lower-b').url;
const info = async (url: string, id: string) => ((await c.client.send('GET', `${url}/System/TaskInfo/${id}`)).body as { TaskInfo?: TaskInfo }).TaskInfo;
const results = async (url: string, id: string) => ((await c.client.send('GET', `${url}/System/TaskResult/${id}?limit=500`)).body as { TaskResultList?: TaskResultBody[] }).TaskResultList ?? [];
const ended = (url: string, id: string, ms = 60_000) => waitFor(`task ${id} to end at ${url}`, async () => {
  const ti = await info(url, id);
  return ti && (ti.ExecutionStatus === ExecutionStatus.Done || ti.ExecutionStatus === ExecutionStatus.Error) ? ti : undefined;
}, ms, 250);
const submit = async (name: string, stream: string, extra: Record<string, unknown> = {}) => {
  const r = await c.client.send('POST', `${lowerA()}/System/TaskRequest/`, { TaskType: 1, TaskName: name,
    InitiationInfo: { DeviceID: 'initiator-1', CustomInfo: { Inputs: [{ StreamURL: stream }], Topology: TOPOLOGY, TaskFrameRate: 2, ...extra } } });
  t.equal(r.status, 200, `accepted: ${JSON.stringify(r.body)}`);
  return defined((r.body as { TaskID?: string }).TaskID, 'TaskID');
};
/** The upper scheduler's TaskID for the part of `ti` placed above (the parent of its mirrored subtask). */
const upperPart = (ti: TaskInfo) => defined(ti.SubtaskInfoList?.find((s) => s.TaskExecutor.DeviceID === 'top'), 'a subtask placed above').TaskDispatchInfo.ParentTaskID ?? '';
/** One key per result: which subtask, and which frame. */
const keyOf = (x: TaskResultBody) => `${x.TaskID}@${imageInfoPts(x.TaskResultData.ImageResult?.ImageInfo) ?? x.Ts}`;

t.test('B.3 step 4, part of a task: the stage lower-a can place runs at lower-a, the other is placed by the top at lower-b (AvoidDevices lower-a); one task at lower-a; every result of both parts at the initiator exactly once', async (t) => {
  const clip = path.join(media, 'part.mp4');
  makeSampleClip(clip, 'testsrc', 10, '640x360');
  const init = await initiator();
  t.teardown(() => init.close());
  const id = await submit('part above', pathToFileURL(clip).href, { NotifyURL: init.url });
  const here = await ended(lowerA(), id);
  t.equal(here.ExecutionStatus, ExecutionStatus.Done, `done at lower-a: ${JSON.stringify(here.SubtaskInfoList?.map((s) => s.TaskStatusInfo))}`);
  const subs = defined(here.SubtaskInfoList, 'subtasks');
  t.equal(subs.length, 2, 'TaskInfo at lower-a shows both parts');
  const local = defined(subs.find((s) => s.TaskDispatchInfo.TaskID === `${id}.1.edge`), 'the edge stage');
  t.equal(local.TaskExecutor.DeviceID, 'edge-a1', 'the stage lower-a can place runs on its own executor');
  const upper = upperPart(here);
  t.not(upper, id, 'the part above is a task of its own at the top');
  const above = defined(subs.find((s) => s.TaskExecutor.DeviceID === 'top'), 'the part above');
  t.equal(above.TaskDispatchInfo.TaskID, `${upper}.1.cloud`, 'only the cloud stage went up');
  t.ok(subs.every((s) => s.TaskStatusInfo.ExecutionStatus === ExecutionStatus.Done), 'each part with its status: done');
  const top = defined(await info(c.top.url, upper), 'the part at the top');
  t.strictSame(top.DeviceList, ['lower-b'], 'the top placed the part at lower-b');
  t.strictSame(top.SubtaskInfoList?.map((s) => s.TaskDispatchInfo.TaskID), [`${upper}.1.cloud`], 'the top runs only that stage');
  t.match(top.Constraints, { AvoidDevices: ['lower-a'] }, 'lower-a told the top to avoid it');
  t.equal(await info(c.top.url, id), undefined, 'the part run at lower-a is not a task at the top');

  const edgeAtTop = (await results(c.top.url, upper)).length;
  await waitFor('results of both parts and the end at the initiator', async () => (init.statuses.at(-1) === ExecutionStatus.Done
    && init.results.filter((r) => r.TaskID === above.TaskDispatchInfo.TaskID).length >= edgeAtTop && init.results.some((r) => r.TaskID === local.TaskDispatchInfo.TaskID) ? true : undefined), 60_000, 250);
  const mine = init.results.filter((r) => r.TaskID === local.TaskDispatchInfo.TaskID);
  const theirs = init.results.filter((r) => r.TaskID === above.TaskDispatchInfo.TaskID);
  t.ok(mine.length >= 18, `${mine.length} results of the stage at lower-a`);
  t.ok(theirs.length >= 18, `${theirs.length} results of the stage at lower-b`);
  t.equal(theirs.length, edgeAtTop, 'every result the top holds for the part above reached the initiator');
  t.equal(new Set(init.results.map(keyOf)).size, init.results.length, 'none twice');
  const stored = await results(lowerA(), id);
  t.equal(stored.length, init.results.length, 'stored at lower-a once each, as pushed');
  t.equal(init.statuses.filter((s) => s === ExecutionStatus.Done).length, 1, 'the end announced once, after the results');
});

t.test('B.3 step 4, part of a task: a stop at lower-a stops both parts (the one at lower-a, and the one above, through the top at lower-b)', async (t) => {
  const src = await slowSource(path.join(media, 'stop.ts'), 60);
  t.teardown(() => src.close());
  const id = await submit('part stopped', src.url);
  const running = await waitFor('both parts running', async () => {
    const ti = await info(lowerA(), id);
    return ti?.SubtaskInfoList?.length === 2 && ti.SubtaskInfoList.every((s) => s.TaskStatusInfo.ExecutionStatus === ExecutionStatus.Running) ? ti : undefined;
  }, 45_000, 250);
  const upper = upperPart(running);
  const atB = `${upper}.1.cloud`;
  t.equal((await info(lowerB(), atB))?.ExecutionStatus, ExecutionStatus.Running, 'the part above runs at lower-b');
  const r = await c.client.command(lowerA(), { CommandType: 'task_ops_control', CommandIdx: c.client.commandIdx(), MessageBody: { OpsControlList: [{ TaskID: id, Control: Control.Stop }] } });
  t.equal(r.StatusCode, '0', `stop accepted at lower-a: ${r.Message ?? ''}`);
  const end = await ended(lowerA(), id, 60_000);
  t.equal(end.ExecutionStatus, ExecutionStatus.Done, 'ended at lower-a');
  const atLowerB = await ended(lowerB(), atB, 60_000);
  t.equal(atLowerB.SubtaskInfoList?.[0]?.TaskStatusInfo.ExceptionDesc, 'stopped by task_ops_control', 'the stop reached lower-b\'s executor through the top');
  const atTop = await ended(c.top.url, upper, 60_000);
  t.equal(atTop.ExecutionStatus, ExecutionStatus.Done, 'the part ended at the top');
  const local = defined(end.SubtaskInfoList?.find((s) => s.TaskExecutor.DeviceID === 'edge-a1'), 'the part at lower-a');
  t.equal(local.TaskStatusInfo.ExceptionDesc, 'stopped by task_ops_control', 'the part at lower-a was stopped, not run to its end');
  t.ok(end.SubtaskInfoList?.every((s) => s.TaskStatusInfo.ExecutionStatus === ExecutionStatus.Done), 'both parts ended at lower-a');
});
