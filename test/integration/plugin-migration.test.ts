/**
 * SB12 for plugin tasks: an executor running motion detection is killed mid-stream; the subtask
 * moves to the other executor and resumes after the last frame whose result was stored (from the
 * AnalysisResult Pts), not from the start and skipping none — and the plugin's strict AlgArgs schema does not
 * refuse the host's StartOffsetMs.
 */
import t from 'tap';
import path from 'node:path';
import { waitFor, waitTaskEnd } from '../helpers/cluster.ts';
import { buildExamples, example, publish, startExampleCluster } from '../helpers/examples.ts';
import { slowSource } from '../helpers/slow-source.ts';
import type { TaskInfo, TaskResultBody } from '../../src/protocol/index.ts';
import { defined } from '../helpers/defined.ts';


t.test('SB12: a moved plugin task resumes after its last stored frame', async (t) => {
  const dir = t.testdir({});
  t.equal(buildExamples(), 0);
  const cluster = await startExampleCluster(dir, 2);
  t.teardown(() => cluster.stop());
  const pub = publish(cluster, example('motion_detection-1.0.0'));
  t.equal(pub.status, 0, pub.stderr);
  const src = await slowSource(path.join(dir, 'clip.ts'), 8);
  t.teardown(() => src.close());
  const r = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, {
    TaskName: 'motion, moved', TaskType: 6, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: src.url }], AlgType: 'motion_detection', TaskFrameRate: 2, AlgArgs: { Threshold: 20 } } },
  });
  const id = (r.body as { TaskID: string }).TaskID;
  t.ok(id, JSON.stringify(r.body));
  const results = async () => ((await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskResult/${id}?limit=500`)).body as { TaskResultList?: TaskResultBody[] }).TaskResultList ?? [];
  const pts = (list: TaskResultBody[]) => list.map((x) => (x.TaskResultData.AnalysisResult?.[0]?.ResultData as { Pts?: number } | undefined)?.Pts ?? -1);
  await waitFor('a few results', async () => ((await results()).length >= 4 ? true : undefined), 30_000);
  const first = ((await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskInfo/${id}`)).body as { TaskInfo: TaskInfo }).TaskInfo.SubtaskInfoList?.[0]?.TaskExecutor.DeviceID;
  if (first === undefined) throw new Error('no subtask to kill the executor of');
  cluster.executor(first).child.kill('SIGKILL');

  const end = await waitTaskEnd(cluster, id, 60_000);
  t.equal(end.ExecutionStatus, 0, JSON.stringify(end.SubtaskInfoList?.map((s) => s.TaskStatusInfo)));
  const sub = defined(end.SubtaskInfoList?.[0], 'the moved subtask');
  t.not(sub.TaskExecutor.DeviceID, first, 'moved to the other executor');
  t.type(sub.TaskDispatchInfo.InputInfo.AlgArgs?.StartOffsetMs, 'number', `resumed at ${sub.TaskDispatchInfo.InputInfo.AlgArgs?.StartOffsetMs} ms`);
  const list = await results();
  const p = pts(list);
  t.equal(new Set(p).size, p.length, `no frame analysed twice (${p.length} results: ${p.join(' ')})`);
  t.ok(p.every((x, i) => i === 0 || x > p[i - 1]!), 'time stamps only go forward');
  // None skipped across the move: at 2 fps of a 25 fps clip consecutive frames are 480–520 ms apart.
  const gaps = p.slice(1).map((x, i) => x - p[i]!); // p[i] is the result before x
  t.ok((p.at(0) ?? NaN) <= 40 && gaps.every((g) => g <= 540), `no frame skipped (largest gap ${Math.max(...gaps)} ms)`);
  t.ok(Math.max(...p) >= 9000, 'to the end of the clip');
  t.ok(list.some((x) => x.DeviceID === first) && list.some((x) => x.DeviceID === sub.TaskExecutor.DeviceID), 'results from both executors');
});
