/**
 * SB9/ED4: the scheduler is killed (SIGKILL) in the middle of a task and started again on the
 * same data directory and port. The executor keeps working and queues what it cannot deliver;
 * the restarted scheduler knows the task from SQLite, the executor registers again, and every
 * frame of the clip ends up stored exactly once.
 */
import t from 'tap';
import path from 'node:path';
import { startCluster, waitFor, waitTaskEnd } from '../helpers/cluster.ts';
import { slowSource } from '../helpers/slow-source.ts';
import { startRole } from '../../src/child-role.ts';
import type { TaskResultBody } from '../../src/protocol/index.ts';

t.test('SB9: a scheduler killed mid-task and restarted finishes the task; no frame lost or stored twice', async (t) => {
  const dir = t.testdir({});
  const cluster = await startCluster(dir, 1);
  // Until the restarted scheduler exists, a failed wait must still stop the cluster (not hang to the file timeout).
  let restarted = false;
  t.teardown(async () => { if (!restarted) await cluster.stop(); });
  const src = await slowSource(path.join(dir, 'clip.ts'), 8);
  t.teardown(() => src.close());
  const r = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, {
    TaskName: 'survive the scheduler', TaskType: 1, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: src.url }], AlgType: 'frame_extraction', TaskFrameRate: 2 } },
  });
  const id = (r.body as { TaskID: string }).TaskID;
  t.ok(id, `accepted: ${JSON.stringify(r.body)}`);
  if (!id) return;
  const results = async (url: string) => ((await cluster.client.send('GET', `${url}/System/TaskResult/${id}?limit=500`)).body as { TaskResultList?: TaskResultBody[] }).TaskResultList ?? [];
  await waitFor('first results', async () => ((await results(cluster.scheduler.url)).length >= 3 ? true : undefined), 20_000);

  const port = new URL(cluster.scheduler.url).port;
  const gone = new Promise((r) => cluster.scheduler.child.once('exit', r));
  cluster.scheduler.child.kill('SIGKILL');
  // Down: the process has exited (its port is free again); meanwhile the executors keep working.
  await gone;
  const again = await startRole(['scheduler', '--listen', `127.0.0.1:${port}`, '--data-dir', path.join(dir, 'scheduler'), '--keepalive', '1', '--allow-private-urls'],
    { env: { RETINAD_TOKEN: cluster.token, RETINAD_LOG_LEVEL: 'debug' }, logFile: path.join(dir, 'scheduler-2.log') });
  restarted = true;
  t.teardown(async () => { await Promise.all(cluster.executors.map((e) => e.stop(3000))); await again.stop(3000); await cluster.client.close(); });
  t.equal(again.url, cluster.scheduler.url, 'same address');

  const info = await waitTaskEnd({ ...cluster, scheduler: again }, id, 60_000);
  t.equal(info.ExecutionStatus, 0, `finished: ${JSON.stringify(info.SubtaskInfoList?.map((s) => s.TaskStatusInfo))}`);
  const list = await results(again.url);
  const pts = list.map((x) => x.TaskResultData.ImageResult?.ImageInfo?.Pts ?? -1);
  t.equal(new Set(pts).size, pts.length, `no frame stored twice (${pts.length} results)`);
  t.equal(pts.length, 20, '10 s at 2 fps: all 20 frames, those sent while the scheduler was down included');
});
