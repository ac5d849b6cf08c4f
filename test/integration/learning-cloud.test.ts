/**
 * DC3, EC7: training as a task, across real processes. A cloud executor (DeviceType 2) runs a
 * TaskType 7 task: OpenCV's handwritten digits go through the example plugin's `rd_train` in
 * the sandbox; the scheduler turns the weights into an ONNX model, packs it as the next
 * AlgVersion signed with its trained-models key and publishes it; an inference task on two
 * other executors (new tasks get the newest version) reports held-out accuracy with it, through
 * ONNX Runtime, against the untrained version before. A training task with bad AlgArgs or a
 * sample set that is not one fails naming the field.
 */
import t from 'tap';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { waitFor, waitTaskEnd } from '../helpers/cluster.ts';
import { learningCluster, submit } from '../helpers/learning.ts';
import { buildExamples, example, publish } from '../helpers/examples.ts';
import { allResults, accuracyBy, haveDigits, loadDigits, serveSamples, split, subset } from '../helpers/digits.ts';
import type { TaskResultBody } from '../../src/protocol/index.ts';

t.test('DC3, EC7: a cloud executor trains a digit classifier as a task; the scheduler publishes it signed as a new version; other executors report higher held-out accuracy with it', { skip: haveDigits() ? false : 'opencv-doc (digits.png) is not installed' }, async (t) => {
  t.equal(buildExamples(), 0, 'example plugins built');
  const dir = t.testdir({});
  const digits = await loadDigits();
  const { heldOut, pool } = split(digits);
  const held = subset(digits, heldOut);
  const data = await serveSamples({ train: subset(digits, pool), heldout: held, broken: { ...held, labels: held.labels.map(() => 42) } });
  t.teardown(() => data.close());
  const { cluster, trainedKeyId } = await learningCluster(dir, 3);
  t.teardown(() => cluster.stop());
  t.equal(publish(cluster, example('digit_classifier-1.0.0')).status, 0, 'digit_classifier 1.0.0 (untrained head) published');
  const [cloud, e2, e3] = cluster.executorIds as [string, string, string];

  const evaluate = async (): Promise<Map<string, { n: number; accuracy: number }>> => {
    const id = await submit(cluster, 6, [{ DeviceID: e2, StreamURL: data.url('heldout') }, { DeviceID: e3, StreamURL: data.url('heldout') }]);
    const info = await waitTaskEnd(cluster, id, 120_000);
    t.equal(info.ExecutionStatus, 0, `held-out inference task ${id} done`);
    return accuracyBy(await allResults(cluster.client, cluster.scheduler.url, id), held.labels);
  };
  const before = await evaluate();
  t.equal(before.get(`${e2} 1.0.0`)?.n, held.labels.length, 'every held-out digit classified on edge-2 by 1.0.0');

  const train = await submit(cluster, 7, [{ DeviceID: cloud, StreamURL: data.url('train') }], { Epochs: 5, LearningRate: 0.5, BatchSize: 32 });
  const ti = await waitTaskEnd(cluster, train, 120_000);
  t.equal(ti.ExecutionStatus, 0, `training task done: ${JSON.stringify(ti).slice(0, 300)}`);
  const [res] = await allResults(cluster.client, cluster.scheduler.url, train) as [TaskResultBody];
  const tm = res.TaskResultData.AnalysisResult?.[0]?.ResultData?.TrainedModel as { SampleCount: number; History: Array<{ TrainAccuracy: number; Loss: number }> };
  t.equal(res.DeviceID, cloud, 'trained on the cloud executor');
  t.equal(tm.SampleCount, pool.length, 'on every training sample');
  t.ok(tm.History.length === 5 && tm.History[4]!.Loss < tm.History[0]!.Loss, `loss falls epoch by epoch: ${tm.History.map((h) => h.Loss.toFixed(3)).join(' → ')}`);
  const repo = await waitFor('1.0.1 in the repository', async () => {
    const list = ((await cluster.client.send('GET', `${cluster.scheduler.url}/System/AlgorithmRepository`)).body as { AlgorithmList: Array<{ AlgID: number; AlgVersion: string; SignedBy?: string | null; signedBy?: string | null }> }).AlgorithmList;
    return list.find((x) => x.AlgID === 2201 && x.AlgVersion === '1.0.1');
  }, 15_000).catch((err: Error) => { throw new Error(`${err.message}; scheduler: ${readFileSync(path.join(dir, 'scheduler.log'), 'utf8').split('\n').filter((l) => /trained/.test(l)).join('\n')}`); });
  t.equal(repo.SignedBy ?? repo.signedBy, trainedKeyId, 'signed with the scheduler\'s trained-models key');

  const after = await evaluate();
  const b2 = before.get(`${e2} 1.0.0`)!, a2 = after.get(`${e2} 1.0.1`), a3 = after.get(`${e3} 1.0.1`);
  t.ok(a2 && a3, `new tasks run the trained version on both edges: ${[...after.keys()].join(', ')}`);
  t.equal(a2!.n, held.labels.length);
  t.ok(a2!.accuracy > 0.85 && a3!.accuracy > 0.85, `held-out accuracy with 1.0.1: ${a2!.accuracy.toFixed(3)} (edge-2), ${a3!.accuracy.toFixed(3)} (edge-3)`);
  t.ok(b2.accuracy < 0.2, `held-out accuracy with the untrained 1.0.0: ${b2.accuracy.toFixed(3)}`);
  t.comment(`FIGURE cloud-trained: before ${b2.accuracy.toFixed(4)} after ${a2!.accuracy.toFixed(4)} / ${a3!.accuracy.toFixed(4)} (held-out ${held.labels.length})`);

  // Bad input: each fails naming the field and the rule.
  const badArgs = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, {
    TaskName: 'bad', TaskType: 7, Constraints: { DeployOn: 'input-device' },
    InitiationInfo: { DeviceID: 'learning-test', CustomInfo: { AlgID: 2201, AlgArgs: { Epochs: 0 }, Inputs: [{ DeviceID: cloud, StreamURL: data.url('train') }] } },
  });
  const badId = (badArgs.body as { TaskID?: string }).TaskID;
  const badMsg = badId ? JSON.stringify(await waitTaskEnd(cluster, badId)) : JSON.stringify(badArgs.body);
  t.match(badMsg, /Epochs/, `Epochs 0 refused, naming the field: ${badMsg.slice(0, 200)}`);
  const broken = await submit(cluster, 7, [{ DeviceID: cloud, StreamURL: data.url('broken') }]);
  const bi = await waitTaskEnd(cluster, broken);
  t.equal(bi.ExecutionStatus, 4, 'a sample set with labels outside the classes fails the task');
  t.match(JSON.stringify(bi), /samples\.labels\[0\]: 42 is not a class below 10/, 'naming the field and the rule');
});
