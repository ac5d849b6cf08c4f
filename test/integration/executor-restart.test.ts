/**
 * EM5/EB6/SB12 on a single-executor site: the only executor is killed (SIGKILL) mid-task and
 * started again on the same data directory a few seconds later, on another port. The scheduler
 * marks it offline, finds nobody to move the subtask to and waits (instead of failing the task);
 * when the executor registers again the subtask goes back to it, resuming after the last stored
 * frame, and what the killed process had queued is delivered from its outbox. Every frame ends up
 * stored exactly once.
 */
import t from 'tap';
import path from 'node:path';
import Database from 'better-sqlite3';
import { startCluster, waitFor, waitTaskEnd } from '../helpers/cluster.ts';
import { EXECUTOR_TEST_ARGS } from '../helpers/cluster.ts';
import { slowSource } from '../helpers/slow-source.ts';
import { startRole } from '../../src/child-role.ts';
import { imageInfoPts, type TaskInfo, type TaskResultBody } from '../../src/protocol/index.ts';
import { defined } from '../helpers/defined.ts';

t.test('EM5: the only executor crashes and comes back; the task resumes there and loses nothing', async (t) => {
  const dir = t.testdir({});
  const cluster = await startCluster(dir, 1);
  const executorId = defined(cluster.executorIds[0], 'the one executor');
  // Until the restarted executor exists, a failed wait must still stop the cluster (not hang to the file timeout).
  let restarted = false;
  t.teardown(async () => { if (!restarted) await cluster.stop(); });
  const src = await slowSource(path.join(dir, 'clip.ts'), 10);
  t.teardown(() => src.close());
  const r = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, {
    TaskName: 'one box', TaskType: 1, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: src.url }], AlgType: 'frame_extraction', TaskFrameRate: 2 } },
  });
  const id = (r.body as { TaskID: string }).TaskID;
  const results = async () => ((await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskResult/${id}?limit=500`)).body as { TaskResultList?: TaskResultBody[] }).TaskResultList ?? [];
  const info = async () => ((await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskInfo/${id}`)).body as { TaskInfo: TaskInfo }).TaskInfo;
  await waitFor('first results', async () => ((await results()).length >= 3 ? true : undefined), 20_000);

  cluster.executor(0).child.kill('SIGKILL');
  // Offline after three missed keepalives (1 s each); the retry finds nobody and waits.
  const waiting = await waitFor('subtask waiting for an executor', async () => {
    const s = defined((await info()).SubtaskInfoList?.[0], 'the subtask').TaskStatusInfo;
    return s.ExecutionStatus === 3 && /waiting for an online executor/.test(s.ExceptionDesc ?? '') ? s : undefined;
  }, 15_000);
  t.pass(`queued, not failed: ${waiting.ExceptionDesc}`);

  const again = await startRole(['executor', '--listen', '127.0.0.1:0', '--device-id', executorId, '--data-dir', path.join(dir, executorId), '--scheduler', cluster.scheduler.url, ...EXECUTOR_TEST_ARGS],
    { env: { RETINAD_TOKEN: cluster.token, RETINAD_LOG_LEVEL: 'debug', RETINAD_SKIP_SELF_BENCH: '1' }, logFile: path.join(dir, 'executor-2.log') });
  restarted = true;
  t.teardown(async () => { await again.stop(3000); await cluster.scheduler.stop(3000); await cluster.client.close(); });

  const end = await waitTaskEnd(cluster, id, 60_000);
  t.equal(end.ExecutionStatus, 0, `finished: ${JSON.stringify(end.SubtaskInfoList?.map((s) => s.TaskStatusInfo))}`);
  t.equal(end.SubtaskInfoList?.[0]?.TaskExecutor.DeviceID, executorId, 'on the restarted executor');
  const pts = (await results()).map((x) => imageInfoPts(x.TaskResultData.ImageResult?.ImageInfo) ?? -1);
  t.equal(new Set(pts).size, pts.length, `no frame stored twice (${pts.length})`);
  t.ok(pts.length >= 17, `${pts.length} of the clip's 20 frames (a frame decoded but not yet queued when the process died can be lost)`);
  t.ok(Math.max(...pts) >= 9000, 'to the end of the clip');
  const db = new Database(path.join(dir, executorId, 'executor.db'), { readonly: true });
  t.teardown(() => db.close());
  t.equal((db.prepare('SELECT COUNT(*) AS n FROM outbox_sent').get() as { n: number }).n, 0, 'results for the scheduler are not kept after delivery (only a next stage\'s are)');
});
