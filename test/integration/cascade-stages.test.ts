/**
 * Cascade, top-down (Annex B.2) with a stage fed by another stage across sites, real processes:
 * a two-stage topology submitted at the top — frames (read the stream, an edge-level site) →
 * fuse (fed by frames' results, a cloud-level site, DeviceType 2). The top places fuse at lower-b
 * and frames at lower-a; lower-b accepts a subtask without StreamURL and places it on one of its
 * executors; frames' results, relayed up by lower-a, go on from the top to lower-b and from there
 * to that executor; fused results reach the initiator. The task's Constraints travel down with
 * the dispatch: lower-b chooses the executor inside the task's area, not the one outside it.
 */
import t from 'tap';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { waitFor } from '../helpers/cluster.ts';
import { initiator, AREA, startCascade, type CascadeCluster } from '../helpers/cascade-cluster.ts';
import { makeSampleClip } from '../../src/demo.ts';
import { slowSource } from '../helpers/slow-source.ts';
import { Control, ExecutionStatus, ExtendedExceptionCode, type TaskInfo, type TaskResultBody } from '../../src/protocol/index.ts';
import { defined } from '../helpers/defined.ts';

const AT: Record<string, [string, string]> = {
  'lower-a': ['116.400000', '39.900000'], 'lower-b': ['116.500000', '39.800000'],
  'edge-a1': ['116.410000', '39.910000'], 'edge-b1': ['121.470000', '31.230000'], 'edge-b2': ['116.510000', '39.810000'],
};
const at = (id: string) => ['--longitude', defined(AT[id], id)[0], '--latitude', defined(AT[id], id)[1]];
const TOPOLOGY = { Stages: [
  { Name: 'frames', After: [], AlgType: 'frame_extraction', DeviceType: '1' },
  { Name: 'fuse', After: ['frames'], AlgType: 'result_fusion', DeviceType: '2', AlgArgs: { WindowMs: 1000, MaxDelayMs: 3000 } },
] };
let c: CascadeCluster;
let media: string;

t.before(async () => {
  media = t.testdir({});
  // lower-b is a cloud-level site (DeviceType 2) with two executors; edge-b1 sorts first, so it
  // would be chosen (equal scores go by DeviceID) were the area not honoured there.
  c = await startCascade(path.join(media, 'cascade'), { 'lower-a': ['edge-a1'], 'lower-b': ['edge-b1', 'edge-b2'] }, {
    lowerArgs: (id) => [...(id === 'lower-b' ? ['--device-type', '2'] : []), ...at(id)],
    executorArgs: (id) => at(id),
  });
});
t.teardown(() => c?.stop());

const info = async (url: string, id: string) => ((await c.client.send('GET', `${url}/System/TaskInfo/${id}`)).body as { TaskInfo?: TaskInfo }).TaskInfo;
const ended = (url: string, id: string, ms = 60_000) => waitFor(`task ${id} to end at ${url}`, async () => {
  const ti = await info(url, id);
  return ti && (ti.ExecutionStatus === ExecutionStatus.Done || ti.ExecutionStatus === ExecutionStatus.Error) ? ti : undefined;
}, ms, 250);

t.test('B.2, M2 across levels: a stage fed by another stage\'s results travels down to a lower scheduler, which places it honouring the task\'s Constraints (area); fused results reach the initiator', async (t) => {
  const clip = path.join(media, 'stages.mp4');
  makeSampleClip(clip, 'testsrc', 10, '640x360');
  const init = await initiator();
  t.teardown(() => init.close());
  const r = await c.client.send('POST', `${c.top.url}/System/TaskRequest/`, { TaskType: 1, TaskName: 'stages across sites', Constraints: AREA,
    InitiationInfo: { DeviceID: 'initiator-1', CustomInfo: { Inputs: [{ StreamURL: pathToFileURL(clip).href }], Topology: TOPOLOGY, TaskFrameRate: 2, NotifyURL: init.url } } });
  const id = defined((r.body as { TaskID?: string }).TaskID, `accepted: ${JSON.stringify(r.body)}`);
  const end = await ended(c.top.url, id, 90_000);
  t.equal(end.ExecutionStatus, ExecutionStatus.Done, `done at the top: ${JSON.stringify(end.SubtaskInfoList?.map((s) => [s.TaskDispatchInfo.TaskID, s.TaskStatusInfo]))}`);
  const where = new Map(defined(end.SubtaskInfoList, 'subtasks').map((s) => [s.TaskDispatchInfo.TaskID, s.TaskExecutor.DeviceID]));
  t.equal(where.get(`${id}.1.frames`), 'lower-a', 'the stage reading the stream at the edge-level site');
  t.equal(where.get(`${id}.1.fuse`), 'lower-b', 'the stage fed by its results at the cloud-level site');
  const fuseAtTop = defined(end.SubtaskInfoList?.find((s) => s.TaskDispatchInfo.TaskID === `${id}.1.fuse`), 'fuse at the top');
  t.equal(fuseAtTop.TaskStatusInfo.ExceptionCode, undefined, 'the fed stage finished once frames ended: completed, not taken for stopped (90)');

  const fuseId = `${id}.1.fuse`;
  const atB = defined(await ended(defined(c.lower.get('lower-b'), 'lower-b').url, fuseId), 'the fed stage at lower-b');
  t.equal(atB.ExecutionStatus, ExecutionStatus.Done, 'done at lower-b');
  t.match(atB.Constraints, AREA, 'the task\'s Constraints travelled down with the dispatch');
  const sub = defined(atB.SubtaskInfoList?.[0], 'its subtask at lower-b');
  t.equal(sub.TaskExecutor.DeviceID, 'edge-b2', 'placed inside the area: edge-b1 (outside it) was not chosen');
  t.equal(sub.TaskDispatchInfo.InputInfo.StreamURL, undefined, 'it reads no stream');
  t.strictSame(sub.TaskDispatchInfo.Dependencies?.map((d) => d.TaskID), [`${id}.1.frames`], 'it is fed by the frames stage, run at the other site');

  const frames = ((await c.client.send('GET', `${c.top.url}/System/TaskResult/${id}?limit=500`)).body as { TaskResultList: TaskResultBody[] }).TaskResultList.filter((x) => x.TaskID === `${id}.1.frames`);
  t.ok(frames.length >= 18, `${frames.length} frames relayed up from lower-a`);
  await waitFor('fused results and the end at the initiator', async () => (init.statuses.at(-1) === ExecutionStatus.Done && init.results.length ? true : undefined), 60_000, 250);
  const fused = init.results.filter((x) => x.TaskID === fuseId);
  t.ok(fused.length >= 1, `${fused.length} fused results at the initiator`);
  t.equal(init.results.length, fused.length, 'only the task\'s results (the last stage\'s): frames feed the fuse stage, not the initiator');
  type Fused = { Sources: Array<{ TaskID: string; Results: unknown[] }> };
  const inputs = fused.flatMap((x) => (x.TaskResultData.AnalysisResult?.[0]?.ResultData as Fused | undefined)?.Sources ?? []);
  t.ok(inputs.every((s) => s.TaskID === `${id}.1.frames`), 'fused from the frames stage');
  t.equal(inputs.reduce((n, s) => n + s.Results.length, 0), frames.length, 'every frame result reached the executor at lower-b, once');
});

t.test('B.2: a lower scheduler refuses a stage from above that none of its executors can take within the task\'s Constraints (area), naming why; the top records it', async (t) => {
  const clip = path.join(media, 'nowhere.mp4');
  makeSampleClip(clip, 'testsrc', 4, '320x240');
  // Both lower schedulers lie in this box, and edge-a1, but neither of lower-b's executors.
  const area = { ...AREA, LongitudeMax: '116.505000' };
  const r = await c.client.send('POST', `${c.top.url}/System/TaskRequest/`, { TaskType: 1, TaskName: 'no executor in the area', Constraints: area,
    InitiationInfo: { DeviceID: 'initiator-1', CustomInfo: { Inputs: [{ StreamURL: pathToFileURL(clip).href }], Topology: TOPOLOGY, TaskFrameRate: 2 } } });
  const id = defined((r.body as { TaskID?: string }).TaskID, `accepted at the top (lower-b lies in the area): ${JSON.stringify(r.body)}`);
  const fuse = await waitFor('the fed stage refused at lower-b', async () => {
    const s = (await info(c.top.url, id))?.SubtaskInfoList?.find((x) => x.TaskDispatchInfo.TaskID === `${id}.1.fuse`);
    return s && s.TaskStatusInfo.ExecutionStatus === ExecutionStatus.Error ? s : undefined;
  }, 60_000, 250);
  t.match(fuse.TaskStatusInfo.ExceptionDesc, /lower-b: .*edge-b\d: at [\d.]+,[\d.]+, outside the task's area/, `lower-b's reason: ${fuse.TaskStatusInfo.ExceptionDesc}`);
  t.equal(await info(defined(c.lower.get('lower-b'), 'lower-b').url, `${id}.1.fuse`), undefined, 'nothing of it was accepted at lower-b');
});

t.test('B.2, 9.7 down the cascade: a stop at the top ends a stage fed across sites too, recorded as stopped (90) at the top, while its executor finishes what it was given', async (t) => {
  const src = await slowSource(path.join(media, 'stop.ts'), 60);
  t.teardown(() => src.close());
  const r = await c.client.send('POST', `${c.top.url}/System/TaskRequest/`, { TaskType: 1, TaskName: 'stopped across sites', Constraints: AREA,
    InitiationInfo: { DeviceID: 'initiator-1', CustomInfo: { Inputs: [{ StreamURL: src.url }], Topology: TOPOLOGY, TaskFrameRate: 2 } } });
  const id = defined((r.body as { TaskID?: string }).TaskID, JSON.stringify(r.body));
  const lowerB = defined(c.lower.get('lower-b'), 'lower-b').url;
  await waitFor('both stages running', async () => {
    const ti = await info(c.top.url, id);
    return ti?.SubtaskInfoList?.length === 2 && ti.SubtaskInfoList.every((s) => s.TaskStatusInfo.ExecutionStatus === ExecutionStatus.Running)
      && (await info(lowerB, `${id}.1.fuse`))?.ExecutionStatus === ExecutionStatus.Running ? true : undefined;
  }, 45_000, 250);
  const stop = await c.client.command(c.top.url, { CommandType: 'task_ops_control', CommandIdx: c.client.commandIdx(), MessageBody: { OpsControlList: [{ TaskID: id, Control: Control.Stop }] } });
  t.equal(stop.StatusCode, '0', `stop accepted at the top: ${stop.Message ?? ''}`);
  const end = await ended(c.top.url, id, 60_000);
  t.equal(end.ExecutionStatus, ExecutionStatus.Done);
  for (const s of defined(end.SubtaskInfoList, 'subtasks')) t.equal(s.TaskStatusInfo.ExceptionCode, ExtendedExceptionCode.Stopped, `${s.TaskDispatchInfo.TaskID}: stopped (90) at the top`);
  const atB = await ended(lowerB, `${id}.1.fuse`, 60_000);
  t.equal(atB.ExecutionStatus, ExecutionStatus.Done, 'the fed stage ended at lower-b');
});
