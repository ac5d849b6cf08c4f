/**
 * S7 with an executor that is not dead but frozen (SIGSTOP: a stalled host, a long GC pause, a
 * network partition): the scheduler moves its subtask after three missed keepalives; when the
 * executor thaws it still runs its copy, and the scheduler tells it to stop that copy, so the
 * work is not done twice from then on.
 */
import t from 'tap';
import path from 'node:path';
import Database from 'better-sqlite3';
import { startCluster, waitFor, waitTaskEnd } from '../helpers/cluster.ts';
import { slowSource } from '../helpers/slow-source.ts';
import { imageInfoPts, type TaskInfo, type TaskResultBody } from '../../src/protocol/index.ts';

t.test('S7: a frozen executor loses its subtask, and its copy is stopped when it thaws', async (t) => {
  const dir = t.testdir({});
  const cluster = await startCluster(dir, 2);
  t.teardown(async () => {
    for (const e of cluster.executors) e.child.kill('SIGCONT');
    await cluster.stop();
  });
  const src = await slowSource(path.join(dir, 'clip.ts'), 10);
  t.teardown(() => src.close());
  const r = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, {
    TaskName: 'freeze me', TaskType: 1, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: src.url }], AlgType: 'frame_extraction', TaskFrameRate: 2 } },
  });
  const id = (r.body as { TaskID: string }).TaskID;
  const subtask = async () => ((await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskInfo/${id}`)).body as { TaskInfo: TaskInfo }).TaskInfo.SubtaskInfoList?.[0];
  const first = await waitFor('subtask running', async () => {
    const s = await subtask();
    return s && s.TaskStatusInfo.ExecutionStatus === 1 ? s.TaskExecutor.DeviceID : undefined;
  }, 15_000);
  const frozen = cluster.executor(first);
  frozen.child.kill('SIGSTOP');
  const second = await waitFor('subtask moved', async () => {
    const s = await subtask();
    return s && s.TaskExecutor.DeviceID !== first && s.TaskStatusInfo.ExecutionStatus === 1 ? s.TaskExecutor.DeviceID : undefined;
  }, 20_000);
  frozen.child.kill('SIGCONT');

  // The thawed executor reports its copy as running; the scheduler answers with a stop.
  const db = new Database(path.join(dir, first, 'executor.db'), { readonly: true, fileMustExist: true });
  t.teardown(() => db.close());
  const row = await waitFor('the copy stopped', async () => {
    const x = db.prepare('SELECT status, exception_desc FROM tasks WHERE task_id = ?').get(`${id}.1`) as { status: number; exception_desc: string | null } | undefined;
    return x && x.status === 0 ? x : undefined;
  }, 20_000);
  t.equal(row.exception_desc, 'stopped by task_ops_control', `the copy on ${first} was stopped`);

  const info = await waitTaskEnd(cluster, id, 60_000);
  t.equal(info.ExecutionStatus, 0, 'the task finished');
  t.equal(info.SubtaskInfoList?.[0]?.TaskExecutor.DeviceID, second, `on ${second}`);
  const res = await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskResult/${id}?limit=500`);
  const list = (res.body as { TaskResultList: TaskResultBody[] }).TaskResultList;
  const pts = list.map((x) => imageInfoPts(x.TaskResultData.ImageResult?.ImageInfo) ?? -1);
  t.ok(Math.max(...pts) >= 9000, 'the clip was processed to its end');
  const fromFrozen = list.filter((x) => x.DeviceID === first).length;
  // Left running, the thawed copy would repeat every frame after the freeze (≈ 20 of 40 seen).
  // What may repeat is what it sent between thawing and being stopped: a few frames.
  const repeats = pts.length - new Set(pts).size;
  t.ok(repeats <= 8, `${repeats} frames delivered twice; ${fromFrozen} of ${list.length} results from the frozen executor`);
});
