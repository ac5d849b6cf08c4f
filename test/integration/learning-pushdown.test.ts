/**
 * DEC2, EC3 (and DC3's accuracy check): trained models flow down, across real processes. Two
 * inference tasks run the digit classifier on live sources: one whose policy allows switching
 * (AlgArgs.ModelUpdate "switch", on two edges) and one without. A training task whose model
 * misses its MinAccuracy on the validation set publishes nothing (rolled back before roll-out):
 * both tasks stay on 1.0.0. A training task that passes publishes 1.0.1, and the scheduler pushes
 * it with TaskUpdate to the task that allows it — both its executors switch at a frame boundary,
 * same TaskID — while the other task keeps 1.0.0.
 */
import t from 'tap';
import path from 'node:path';
import { waitFor, waitTaskEnd } from '../helpers/cluster.ts';
import { buildExamples, example, publish } from '../helpers/examples.ts';
import { allResults, haveDigits, loadDigits, serveSamples, split, subset } from '../helpers/digits.ts';
import { learningCluster, submit } from '../helpers/learning.ts';
import { slowSource } from '../helpers/slow-source.ts';

t.test('DEC2, EC3: a trained version is pushed to the running task whose policy allows it (switching at a frame boundary on both its executors); a version failing its accuracy check is not rolled out', { skip: haveDigits() ? false : 'opencv-doc (digits.png) is not installed' }, async (t) => {
  t.equal(buildExamples(), 0, 'example plugins built');
  const dir = t.testdir({});
  const digits = await loadDigits();
  const { heldOut, pool } = split(digits);
  const data = await serveSamples({ train: subset(digits, pool), heldout: subset(digits, heldOut) });
  t.teardown(() => data.close());
  const { cluster } = await learningCluster(dir, 3);
  t.teardown(() => cluster.stop());
  t.equal(publish(cluster, example('digit_classifier-1.0.0')).status, 0, 'digit_classifier 1.0.0 published');
  const [cloud, e2, e3] = cluster.executorIds as [string, string, string];
  const cams = await Promise.all([0, 1, 2].map((i) => slowSource(path.join(dir, `cam${i}.ts`), 60)));
  t.teardown(() => { for (const c of cams) c.close(); });

  const switching = await submit(cluster, 6, [{ DeviceID: e2, StreamURL: cams[0]!.url }, { DeviceID: e3, StreamURL: cams[1]!.url }], { ModelUpdate: 'switch' });
  const staying = await submit(cluster, 6, [{ DeviceID: e3, StreamURL: cams[2]!.url }]);
  const seen = async (id: string) => {
    const m = new Map<string, Set<string>>();
    for (const r of await allResults(cluster.client, cluster.scheduler.url, id)) { const s = m.get(r.DeviceID) ?? new Set(); s.add(r.AlgVersion); m.set(r.DeviceID, s); }
    return m;
  };
  await waitFor('both tasks deliver 1.0.0 results', async () => { const a = await seen(switching), b = await seen(staying); return a.get(e2)?.has('1.0.0') && a.get(e3)?.has('1.0.0') && b.get(e3)?.has('1.0.0') ? true : undefined; }, 60_000);

  const versions = async () => ((await cluster.client.send('GET', `${cluster.scheduler.url}/System/AlgorithmRepository`)).body as { AlgorithmList: Array<{ AlgID: number; AlgVersion: string }> }).AlgorithmList.filter((x) => x.AlgID === 2201).map((x) => x.AlgVersion);
  const strict = await submit(cluster, 7, [{ DeviceID: cloud, StreamURL: data.url('train') }], { Epochs: 2, ValidationURL: data.url('heldout'), MinAccuracy: 0.99 });
  t.equal((await waitTaskEnd(cluster, strict, 120_000)).ExecutionStatus, 0, 'the strict training task ran');
  const [strictResult] = await allResults(cluster.client, cluster.scheduler.url, strict);
  const va = (strictResult?.TaskResultData.AnalysisResult?.[0]?.ResultData?.TrainedModel as { ValidationAccuracy?: number } | undefined)?.ValidationAccuracy;
  t.ok(typeof va === 'number' && va < 0.99, `its validation accuracy ${va} misses MinAccuracy 0.99`);
  await new Promise((r) => setTimeout(r, 1500));
  t.strictSame(await versions(), ['1.0.0'], 'nothing published: the failing version never rolls out');

  const good = await submit(cluster, 7, [{ DeviceID: cloud, StreamURL: data.url('train') }], { Epochs: 5, ValidationURL: data.url('heldout'), MinAccuracy: 0.8 });
  t.equal((await waitTaskEnd(cluster, good, 120_000)).ExecutionStatus, 0, 'the good training task ran');
  await waitFor('1.0.1 published', async () => ((await versions()).includes('1.0.1') ? true : undefined), 15_000);
  await waitFor('the switching task runs 1.0.1 on both executors', async () => { const a = await seen(switching); return a.get(e2)?.has('1.0.1') && a.get(e3)?.has('1.0.1') ? true : undefined; }, 60_000);
  const info = (await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskInfo/${switching}`)).body as { TaskInfo: { SubtaskInfoList?: Array<{ TaskDispatchInfo: { AlgModelInfo: { AlgVersion: string } }; TaskStatusInfo?: { ExecutionStatus?: number } }> } };
  t.ok(info.TaskInfo.SubtaskInfoList?.every((s) => s.TaskDispatchInfo.AlgModelInfo.AlgVersion === '1.0.1' && s.TaskStatusInfo?.ExecutionStatus === 1), 'the same subtasks run on, now on 1.0.1 (no new task)');
  const before = (await allResults(cluster.client, cluster.scheduler.url, staying)).length;
  await waitFor('the other task delivers more results', async () => ((await allResults(cluster.client, cluster.scheduler.url, staying)).length > before + 4 ? true : undefined), 30_000);
  t.strictSame([...(await seen(staying)).get(e3)!], ['1.0.0'], 'the task without the policy stays on 1.0.0');
  // algorithm_res_query shows the versions side by side on the executor that has both.
  const res = await cluster.client.send('GET', `${cluster.scheduler.url}/System/DeviceList`);
  const list = (res.body as { DeviceList: Array<{ DeviceID: string; AlgInfoList: Array<{ AlgID: number; AlgVersion: string; AlgStatus?: number }> }> }).DeviceList;
  await waitFor('edge-3 lists both versions', async () => {
    const l = ((await cluster.client.send('GET', `${cluster.scheduler.url}/System/DeviceList`)).body as typeof res.body as { DeviceList: typeof list }).DeviceList;
    const v = l.find((d) => d.DeviceID === e3)?.AlgInfoList.filter((a) => a.AlgID === 2201).map((a) => a.AlgVersion).sort();
    return v?.includes('1.0.0') && v.includes('1.0.1') ? true : undefined;
  }, 30_000);
  t.pass('both versions installed side by side on edge-3, each in use by a task');
});
