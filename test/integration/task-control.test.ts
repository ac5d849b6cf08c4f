/**
 * 9.7/9.9, S4, SB6: an initiator controls and queries its task through the scheduler. Controls
 * sent to the scheduler's /System/Command fan out to the executors of every subtask: pause holds
 * the results back, resume lets them flow, update changes AlgArgs (kept for retries), stop ends
 * the task early as ExecutionStatus 0. task_status_query answers for the task and, with
 * HierarchicalQuery "1", for its subtasks per executor. Bad controls name what is wrong.
 */
import t from 'tap';
import path from 'node:path';
import { startCluster, waitFor, waitTaskEnd } from '../helpers/cluster.ts';
import { slowSource } from '../helpers/slow-source.ts';
import type { DevTaskStatus, TaskInfo, TaskResultBody } from '../../src/protocol/index.ts';

t.test('9.7/9.9, S4, SB6, SB7, B2: pause, resume, update, query and stop a running two-stream task through the scheduler', async (t) => {
  const dir = t.testdir({});
  const cluster = await startCluster(dir, 2);
  t.teardown(() => cluster.stop());
  const a = await slowSource(path.join(dir, 'a.ts'), 12);
  const b = await slowSource(path.join(dir, 'b.ts'), 12);
  t.teardown(() => { a.close(); b.close(); });
  const r = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, {
    TaskName: 'two cameras', TaskType: 1, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: a.url }, { StreamURL: b.url }], AlgType: 'frame_extraction', TaskFrameRate: 2 } },
  });
  const id = (r.body as { TaskID: string }).TaskID;
  const info = async () => ((await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskInfo/${id}`)).body as { TaskInfo: TaskInfo }).TaskInfo;
  const count = async () => (((await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskResult/${id}?limit=500`)).body as { TaskResultList?: TaskResultBody[] }).TaskResultList ?? []).length;
  const control = (Control: number, extra: Record<string, unknown> = {}, TaskID = id) => cluster.client.command(cluster.scheduler.url,
    { CommandType: 'task_ops_control', CommandIdx: cluster.client.commandIdx(), MessageBody: { OpsControlList: [{ TaskID, Control, ...extra }] } });
  const statuses = async () => (await info()).SubtaskInfoList!.map((s) => s.TaskStatusInfo.ExecutionStatus);
  await waitFor('both subtasks running with results', async () => ((await statuses()).every((x) => x === 1) && (await count()) >= 2 ? true : undefined), 20_000);
  const schedulerId = (await info()).SubtaskInfoList?.[0]?.TaskDispatchInfo.DstDeviceList[0]?.DeviceID;
  if (!schedulerId) throw new Error('the subtask names no scheduler destination');

  // Pause: both executors hold the task; no new results.
  t.equal((await control(2)).StatusCode, '0', 'pause accepted');
  await waitFor('both paused', async () => ((await statuses()).every((x) => x === 2) ? true : undefined), 10_000);
  // What was produced before the pause may still be on its way (a frame being encoded, the
  // outbox's delivery): poll until the count settles — the same on three polls a frame interval
  // apart — with a deadline.
  let last = -1;
  let same = 0;
  const atPause = await waitFor('results to settle', async () => {
    const now = await count();
    same = now === last ? same + 1 : 0;
    last = now;
    return same >= 2 ? now : undefined;
  }, 15_000, 500);
  // No new results while paused: absence needs a window; three frame intervals at 2 fps would each
  // have brought a result from each stream.
  await new Promise((r) => setTimeout(r, 3 * 500));
  t.equal(await count(), atPause, `paused: no new results over three frame intervals (${atPause} so far)`);

  // Query through the scheduler: the task, then its subtasks per executor.
  const q = await cluster.client.command<{ TaskStatusSet: DevTaskStatus[] }>(cluster.scheduler.url, { CommandType: 'task_status_query', CommandIdx: cluster.client.commandIdx(),
    MessageBody: { DeviceList: [{ DeviceID: schedulerId, HierarchicalQuery: '1', TaskIDList: [id] }] } });
  t.equal(q.StatusCode, '0');
  t.equal(q.TaskStatusSet[0]?.DeviceID, schedulerId);
  t.match(q.TaskStatusSet[0]?.TaskStatusList, [{ TaskID: id, TaskName: 'two cameras', ExecutionStatus: 2 }], 'the task, paused');
  const executors = q.TaskStatusSet.slice(1);
  t.strictSame(executors.map((d) => d.DeviceID).sort(), [...cluster.executorIds].sort(), 'then one entry per executor (HierarchicalQuery 1)');
  t.ok(executors.every((d) => d.TaskStatusList?.length === 1 && d.TaskStatusList[0]?.ParentTaskID === id && d.TaskStatusList[0]?.ExecutionStatus === 2), 'each with its paused subtask');

  // Resume, and update the arguments (kept in the dispatch info for retries).
  t.equal((await control(3)).StatusCode, '0', 'resume accepted');
  await waitFor('both running again', async () => ((await statuses()).every((x) => x === 1) ? true : undefined), 10_000);
  await waitFor('results flow again', async () => ((await count()) > atPause ? true : undefined), 10_000);
  t.equal((await control(4, { AlgArgs: { JpegQuality: 40 } })).StatusCode, '0', 'update accepted');
  t.ok((await info()).SubtaskInfoList!.every((s) => s.TaskDispatchInfo.InputInfo.AlgArgs?.JpegQuality === 40), 'new AlgArgs recorded for both subtasks');

  // Generated bad controls name what is wrong and change nothing.
  const unknown = await control(1, {}, 'no-such-task');
  t.equal(unknown.StatusCode, '1');
  t.match(unknown.Message, /TaskID: no task or subtask "no-such-task"/);
  const noArgs = await control(4);
  t.match(noArgs.Message, /AlgArgs is required with Control 4/);
  const badType = await cluster.client.command(cluster.scheduler.url, { CommandType: 'task_ops_control', CommandIdx: cluster.client.commandIdx(), MessageBody: { OpsControlList: [{ TaskID: id, Control: 9 }] } });
  t.match(badType, { StatusCode: '1', Message: /Control/ }, 'an out-of-range Control is refused by the schema');

  // Stop: the task ends now, long before the 12 s sources do, as done-and-stopped.
  const stoppedAt = await count();
  t.equal((await control(1)).StatusCode, '0', 'stop accepted');
  const end = await waitTaskEnd(cluster, id, 15_000);
  t.equal(end.ExecutionStatus, 0, 'ExecutionStatus 0');
  t.ok(end.SubtaskInfoList!.every((s) => s.TaskStatusInfo.ExceptionDesc === 'stopped by task_ops_control'), 'each subtask says it was stopped');
  t.ok(end.SubtaskInfoList!.every((s) => s.TaskStatusInfo.ExceptionCode === 90), 'with ExceptionCode 90, stopped: a state of its own, distinct from done (9.7)');
  t.ok((await count()) < 40, `${await count()} results of the 40 the two clips hold (${stoppedAt} at the stop)`);
});
