/**
 * 9.9 Progress across real processes: a file served slowly over HTTP (its container states its
 * duration when the decoder opens it) is read by an executor while the initiator polls
 * TaskInfo; the subtask's Progress moves through values strictly between 0 and 100 while it
 * runs, never goes back, and is 100 at the end — for the task too (table 31, task_status_query).
 */
import t from 'tap';
import path from 'node:path';
import { startCluster } from '../helpers/cluster.ts';
import { slowSource } from '../helpers/slow-source.ts';
import type { DevTaskStatus, TaskInfo } from '../../src/protocol/index.ts';

t.test('9.9: Progress of a slow file task, polled through TaskInfo, is strictly between 0 and 100 while it runs, never decreases, and is 100 at the end', async (t) => {
  const dir = t.testdir({});
  const cluster = await startCluster(path.join(dir, 'c'), 1);
  t.teardown(() => cluster.stop());
  const src = await slowSource(path.join(dir, 'slow.mp4'), 12, { container: 'mp4' });
  t.teardown(() => src.close());
  const r = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, { TaskName: 'progress', TaskType: 1,
    InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: src.url }], AlgType: 'frame_extraction', TaskFrameRate: 2 } } });
  const id = (r.body as { TaskID?: string }).TaskID;
  t.ok(id, JSON.stringify(r.body));

  const seen: Array<{ status: number; progress: number }> = [];
  let info: TaskInfo | undefined;
  const deadline = Date.now() + 120_000;
  for (;;) {
    info = ((await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskInfo/${id}`)).body as { TaskInfo: TaskInfo }).TaskInfo;
    const sub = info.SubtaskInfoList?.[0]?.TaskStatusInfo;
    if (sub) seen.push({ status: sub.ExecutionStatus, progress: sub.Progress ?? 0 });
    if (info.ExecutionStatus === 0 || info.ExecutionStatus === 4 || Date.now() > deadline) break;
    await new Promise((res) => setTimeout(res, 250));
  }
  t.equal(info.ExecutionStatus, 0, JSON.stringify(info.SubtaskInfoList?.map((s) => s.TaskStatusInfo)));
  const progress = seen.map((s) => s.progress);
  const during = seen.filter((s) => s.status === 1 && s.progress > 0 && s.progress < 100).map((s) => s.progress);
  t.ok(during.length > 0, `Progress seen strictly between 0 and 100 while running: ${[...new Set(during)].join(', ')}`);
  t.ok(new Set(during).size >= 2, 'it moved while running, not one jump');
  t.ok(progress.every((p, i) => i === 0 || p >= progress[i - 1]!), `never decreasing: ${[...new Set(progress)].join(' → ')}`);
  t.equal(progress.at(-1), 100, 'the subtask ends at 100');
  t.ok(seen.filter((s) => s.status === 1).every((s) => s.progress < 100), 'not 100 before it is done');

  const q = await cluster.client.command<{ TaskStatusSet: DevTaskStatus[] }>(cluster.scheduler.url, { CommandType: 'task_status_query', CommandIdx: cluster.client.commandIdx(),
    MessageBody: { DeviceList: [{ DeviceID: info.SubtaskInfoList![0]!.TaskDispatchInfo.DstDeviceList[0]!.DeviceID, HierarchicalQuery: '0', TaskIDList: [id] }] } });
  t.equal(q.TaskStatusSet[0]?.TaskStatusList?.[0]?.Progress, 100, 'the task\'s own Progress (table 31) is 100 at the end');
});
