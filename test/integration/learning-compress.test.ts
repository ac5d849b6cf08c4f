/**
 * DC6 (co-evolution: the cloud model compressed for the device) across real processes. The cloud
 * executor trains the digit classifier twice from zero on the same pool: once as it is (1.0.1),
 * once with AlgArgs.Compress "int8" (1.0.2, int8 weights with a scale per class). Edges infer
 * held-out digits with each through ONNX Runtime: the compressed model's file is about a quarter
 * of the float one and its accuracy within a point of it. A bad Compress fails naming the field.
 */
import t from 'tap';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { waitFor, waitTaskEnd } from '../helpers/cluster.ts';
import { learningCluster, publishedVersions, submit } from '../helpers/learning.ts';
import { buildExamples, example, publish } from '../helpers/examples.ts';
import { allResults, accuracyBy, haveDigits, loadDigits, serveSamples, split, subset } from '../helpers/digits.ts';
import { readTarGz } from '../../src/plugins/package-file.ts';


t.test('DC6: the cloud model compressed to int8 for devices: a quarter of the bytes, held-out accuracy within a point', { skip: haveDigits() ? false : 'opencv-doc (digits.png) is not installed' }, async (t) => {
  t.equal(buildExamples(), 0, 'example plugins built');
  const dir = t.testdir({});
  const digits = await loadDigits();
  const { heldOut, pool } = split(digits);
  const held = subset(digits, heldOut);
  const data = await serveSamples({ train: subset(digits, pool), heldout: held });
  t.teardown(() => data.close());
  const { cluster } = await learningCluster(dir, 3);
  t.teardown(() => cluster.stop());
  t.equal(publish(cluster, example('digit_classifier-1.0.0')).status, 0, 'digit_classifier 1.0.0 published');
  const [cloud, e2, e3] = cluster.executorIds as [string, string, string];

  const train = async (args: Record<string, unknown>, version: string) => {
    const id = await submit(cluster, 7, [{ DeviceID: cloud, StreamURL: data.url('train') }], { Epochs: 5, LearningRate: 0.5, BatchSize: 32, Restart: true, ...args });
    t.equal((await waitTaskEnd(cluster, id, 120_000)).ExecutionStatus, 0, `training for ${version} done`);
    await waitFor(`${version} published`, async () => ((await publishedVersions(cluster)).includes(version) ? true : undefined), 15_000);
    return readTarGz(readFileSync(path.join(dir, 'scheduler', 'repository', '2201', `${version}.rpk`))).get('files/models/digits.onnx')!;
  };
  const evaluate = async (version: string) => {
    const id = await submit(cluster, 6, [{ DeviceID: e2, StreamURL: data.url('heldout') }, { DeviceID: e3, StreamURL: data.url('heldout') }]);
    t.equal((await waitTaskEnd(cluster, id, 120_000)).ExecutionStatus, 0, `held-out task on ${version} done`);
    const by = accuracyBy(await allResults(cluster.client, cluster.scheduler.url, id), held.labels);
    const a = by.get(`${e2} ${version}`), b = by.get(`${e3} ${version}`);
    t.ok(a && b && a.n === held.labels.length, `both edges classified every held-out digit with ${version}: ${[...by.keys()].join(', ')}`);
    return { e2: a!.accuracy, e3: b!.accuracy };
  };

  const floatModel = await train({}, '1.0.1');
  const floatAcc = await evaluate('1.0.1');
  const int8Model = await train({ Compress: 'int8' }, '1.0.2');
  const int8Acc = await evaluate('1.0.2');
  t.ok(int8Model.length < floatModel.length * 0.3, `the compressed model is ${int8Model.length} bytes against ${floatModel.length}`);
  t.match(int8Model.toString('latin1'), /DequantizeLinear/, 'its weights are int8, restored by a DequantizeLinear node');
  t.ok(Math.abs(int8Acc.e2 - floatAcc.e2) <= 0.01, `held-out accuracy float ${floatAcc.e2.toFixed(3)}, int8 ${int8Acc.e2.toFixed(3)}: within a point`);
  t.equal(int8Acc.e2, int8Acc.e3, 'the same on both edges');
  t.comment(`FIGURE compress: float model ${floatModel.length} bytes, held-out ${floatAcc.e2.toFixed(4)} | int8 model ${int8Model.length} bytes, held-out ${int8Acc.e2.toFixed(4)}`);

  const bad = await submit(cluster, 7, [{ DeviceID: cloud, StreamURL: data.url('train') }], { Compress: 'zip' });
  const bi = await waitTaskEnd(cluster, bad);
  t.equal(bi.ExecutionStatus, 4, 'a Compress the host does not know fails the task');
  t.match(JSON.stringify(bi), /AlgArgs\.Compress: \\"zip\\" must be \\"none\\" or \\"int8\\"/, 'naming the field and the rule');
});
