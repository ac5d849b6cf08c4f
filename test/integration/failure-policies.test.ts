/**
 * Failure policies across real processes (S7, SB11): a subtask moves off an executor whose
 * TotalResource report shrinks below what the task needs; a DAG whose stage fails for good is
 * rolled back — its other stages stopped on their executors, one consistent state reported.
 */
import t from 'tap';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startCluster, waitFor, waitTaskEnd } from '../helpers/cluster.ts';
import { slowSource } from '../helpers/slow-source.ts';
import type { TaskInfo, TaskResultBody } from '../../src/protocol/index.ts';

t.test('S7: a subtask moves off an executor whose TotalResource report shrinks below what it needs (resource shortage)', async (t) => {
  const dir = t.testdir({});
  const cluster = await startCluster(dir, 2);
  t.teardown(() => cluster.stop());
  const src = await slowSource(path.join(dir, 'clip.ts'), 8);
  t.teardown(() => src.close());
  const r = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, { TaskName: 'needs memory', TaskType: 1,
    // A small need: placement's memory filter compares it with AvailableMemory as reported.
    Constraints: { MemoryBytes: 4096 }, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: src.url }], AlgType: 'frame_extraction', TaskFrameRate: 2 } } });
  const id = (r.body as { TaskID: string }).TaskID;
  t.ok(id, JSON.stringify(r.body));
  const info = async () => ((await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskInfo/${id}`)).body as { TaskInfo: TaskInfo }).TaskInfo;
  const first = await waitFor('running with results', async () => {
    const s = (await info()).SubtaskInfoList?.[0];
    const res = (await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskResult/${id}`)).body as { TaskResultList?: TaskResultBody[] };
    return s?.TaskStatusInfo.ExecutionStatus === 1 && res.TaskResultList?.length ? s.TaskExecutor.DeviceID : undefined;
  }, 30_000, 100);
  // The executor now says it has no memory at all (TotalMemory 0 MB): it can no longer hold the subtask.
  const shrink = await cluster.client.send('PATCH', `${cluster.scheduler.url}/System/ResourceInfo/TotalResource`, {
    DeviceID: first, DeviceType: '1', ResourceInfo: { IsValid: 'Y', CommonResource: { TotalMemory: 0, TotalStorage: 0, TotalBandwidth: 0 } } });
  t.equal((shrink.body as { StatusCode: string }).StatusCode, '0', JSON.stringify(shrink.body));
  const second = await waitFor('moved', async () => { const d = (await info()).SubtaskInfoList?.[0]?.TaskExecutor.DeviceID; return d && d !== first && d !== '-' ? d : undefined; }, 20_000, 100);
  t.not(second, first, `moved from ${first} to ${second}`);
  const end = await waitTaskEnd(cluster, id, 60_000);
  t.equal(end.ExecutionStatus, 0, JSON.stringify(end.SubtaskInfoList?.[0]?.TaskStatusInfo));
  const res = (await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskResult/${id}?limit=500`)).body as { TaskResultList: TaskResultBody[] };
  t.ok(res.TaskResultList.some((x) => x.DeviceID === second), 'the moved subtask delivered results from its new executor');
});

t.test('SB11: a DAG whose stage fails for good is rolled back across real processes: the other stages stop, the task reports the real cause, delivered results are kept', async (t) => {
  const dir = t.testdir({});
  const cluster = await startCluster(dir, 2);
  t.teardown(() => cluster.stop());
  const src = await slowSource(path.join(dir, 'clip.ts'), 10);
  t.teardown(() => src.close());
  const missing = pathToFileURL(path.join(dir, 'no-such-camera.mp4')).href;
  const r = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, { TaskName: 'two cameras, one dead', TaskType: 10, InitiationInfo: { DeviceID: 'i', CustomInfo: {
    Inputs: [{ StreamURL: src.url }, { StreamURL: missing }], TaskFrameRate: 2,
    Topology: { Stages: [{ Name: 'grab', AlgType: 'frame_extraction', After: [] }, { Name: 'fuse', AlgType: 'result_fusion', After: ['grab'], Join: true }] },
    FailurePolicy: { OnFailure: 'Rollback' } } } });
  const id = (r.body as { TaskID: string }).TaskID;
  t.ok(id, JSON.stringify(r.body));
  const end = await waitTaskEnd(cluster, id, 60_000);
  const subs = Object.fromEntries(end.SubtaskInfoList!.map((s) => [s.TaskDispatchInfo.TaskID.slice(id.length + 1), s]));
  t.equal(end.ExecutionStatus, 4, 'the task failed, as one');
  t.equal(subs['2.grab']?.TaskStatusInfo.ExceptionCode, 60, 'the dead camera: data source error');
  for (const n of ['1.grab', 'fuse']) {
    if (!subs[n]) continue; // not placed at all once the rollback began
    t.equal(subs[n].TaskStatusInfo.ExecutionStatus, 4, `${n} rolled back`);
    t.equal(subs[n].TaskStatusInfo.ExceptionCode, 30, `${n}: ExceptionCode 30, failed because of another`);
  }
  // Nothing of the task runs any more on the executors: each answers its copies ended.
  for (const ex of cluster.executorIds) {
    await waitFor(`${ex} ran nothing of it`, async () => {
      const q = await cluster.client.command(cluster.executor(ex).url, { CommandType: 'task_status_query', CommandIdx: cluster.client.commandIdx(), DeviceID: ex,
        MessageBody: { DeviceList: [{ DeviceID: ex, HierarchicalQuery: '0' }] } }) as { TaskStatusSet?: Array<{ TaskStatusList?: Array<{ TaskID: string; ExecutionStatus: number }> }> };
      const mine = (q.TaskStatusSet ?? []).flatMap((d) => d.TaskStatusList ?? []).filter((x) => x.TaskID.startsWith(id));
      return mine.every((x) => x.ExecutionStatus === 0 || x.ExecutionStatus === 4) ? true : undefined;
    }, 20_000, 200);
  }
  const after = (await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskResult/${id}?limit=500`)).body as { TaskResultList?: TaskResultBody[] };
  t.ok(Array.isArray(after.TaskResultList), `results delivered before the rollback are still there (${after.TaskResultList?.length ?? 0})`);
});
