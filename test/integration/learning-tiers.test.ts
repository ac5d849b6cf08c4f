/**
 * DEC2: devices extract features, edges recognise, the cloud trains and pushes models to edges
 * and devices — one flow across real processes: a scheduler and three executors, a device
 * (DeviceType 0), an edge (1) and the cloud (2). The cloud trains one network (digit_mlp, 400 →
 * 64 ReLU → 10) on the digit pool as a TaskType 7 task; the scheduler publishes it and cuts it
 * into the parts its manifest names: layer 1 for devices (digit_mlp_features), layer 2 for edges
 * (digit_mlp_head), each signed as a new version. The device runs its part over the held-out
 * digits and files each frame's 64 features (its model's output, not pixels) in its sample
 * store; the edge reads that set from the device (GET /System/Samples/…rds) and recognises it;
 * each answer is matched to its digit through the device's FeatureRow. A second training pushes
 * the next versions to both tiers: to new tasks, and to the device's running task over a live
 * camera whose policy is ModelUpdate "switch". Bad input fails naming the field.
 */
import t from 'tap';
import path from 'node:path';
import { request } from 'undici';
import { waitFor, waitTaskEnd, type Cluster } from '../helpers/cluster.ts';
import { buildExamples, example, publish } from '../helpers/examples.ts';
import { allResults, haveDigits, loadDigits, serveSamples, split, subset } from '../helpers/digits.ts';
import { learningCluster, publishedVersions, submit } from '../helpers/learning.ts';
import { slowSource } from '../helpers/slow-source.ts';
import { forward, networkFromWire } from '../../src/plugins/dense-network.ts';
import { decodeSamples } from '../../src/plugins/train-blob.ts';

const WHOLE = 2210, DEVICE_PART = 2211, EDGE_PART = 2212;

type TrainedModel = { Sizes: number[]; Weights: string; SampleCount: number; BaseVersion: string; ValidationAccuracy: number; History: Array<{ Loss: number }> };

/** The trained network a training task sent (its one result). */
async function trainedBy(c: Cluster, id: string): Promise<TrainedModel> {
  const [r] = await allResults(c.client, c.scheduler.url, id);
  return r!.TaskResultData.AnalysisResult![0]!.ResultData!.TrainedModel as TrainedModel;
}

t.test('DEC2: the cloud trains one network, its first layer goes to a device (features), its head to an edge (recognition); device → edge digits; retraining reaches both tiers', { skip: haveDigits() ? false : 'opencv-doc (digits.png) is not installed' }, async (t) => {
  t.equal(buildExamples(), 0, 'example plugins built');
  const dir = t.testdir({});
  const digits = await loadDigits();
  const { heldOut, pool } = split(digits);
  const held = subset(digits, heldOut);
  const data = await serveSamples({ train: subset(digits, pool), heldout: held });
  t.teardown(() => data.close());
  // edge-1 the cloud (DeviceType 2), edge-2 a device (0), edge-3 an edge (1).
  const { cluster, trainedKeyId } = await learningCluster(dir, 3, (i) => [2, 0, 1][i - 1]!);
  t.teardown(() => cluster.stop());
  const [cloud, device, edge] = cluster.executorIds as [string, string, string];
  const types = ((await cluster.client.send('GET', `${cluster.scheduler.url}/System/DeviceList`)).body as { DeviceList: Array<{ DeviceID: string; DeviceType: number | string }> }).DeviceList;
  t.strictSame([cloud, device, edge].map((id) => Number(types.find((d) => d.DeviceID === id)?.DeviceType)), [2, 0, 1], 'cloud, device and edge registered with DeviceType 2, 0, 1');
  for (const name of ['digit_mlp', 'digit_mlp_features', 'digit_mlp_head']) t.equal(publish(cluster, example(`${name}-1.0.0`)).status, 0, `${name} 1.0.0 published`);
  const cam = await slowSource(path.join(dir, 'cam.ts'), 60);
  t.teardown(() => cam.close());
  // A device task over a live camera that takes new versions as they come (its features go nowhere here).
  const live = await submit(cluster, 4, [{ DeviceID: device, StreamURL: cam.url }], { ModelUpdate: 'switch' }, DEVICE_PART);
  const liveVersions = async () => new Set((await allResults(cluster.client, cluster.scheduler.url, live)).map((r) => r.AlgVersion));
  const liveRuns = (version: string) => waitFor(`the running device task on ${version}`, async () => ((await liveVersions()).has(version) ? true : undefined), 90_000);
  await liveRuns('1.0.0');

  /** Trains the network on the cloud and waits until the whole and both parts are at `version`. */
  const train = async (epochs: number, version: string): Promise<TrainedModel> => {
    const id = await submit(cluster, 7, [{ DeviceID: cloud, StreamURL: data.url('train') }], { Epochs: epochs, LearningRate: 0.3, BatchSize: 32, ValidationURL: data.url('heldout') }, WHOLE);
    const ti = await waitTaskEnd(cluster, id, 300_000);
    t.equal(ti.ExecutionStatus, 0, `training to ${version} done: ${JSON.stringify(ti).slice(0, 200)}`);
    for (const alg of [WHOLE, DEVICE_PART, EDGE_PART]) await waitFor(`AlgID ${alg} ${version}`, async () => ((await publishedVersions(cluster, alg)).includes(version) ? true : undefined), 20_000);
    return trainedBy(cluster, id);
  };
  /** The device extracts features of the held-out digits into `set`; the edge recognises them from the device's store. */
  const splitRun = async (set: string, version: string) => {
    const dt = await submit(cluster, 4, [{ DeviceID: device, StreamURL: data.url('heldout') }], { FeatureSet: set }, DEVICE_PART);
    t.equal((await waitTaskEnd(cluster, dt, 300_000)).ExecutionStatus, 0, `the device extracted features into ${set}`);
    const dres = await allResults(cluster.client, cluster.scheduler.url, dt);
    const et = await submit(cluster, 6, [{ DeviceID: edge, StreamURL: `${cluster.executor(device).url}/System/Samples/${set}.rds` }], {}, EDGE_PART);
    t.equal((await waitTaskEnd(cluster, et, 300_000)).ExecutionStatus, 0, `the edge recognised ${set}, read from the device`);
    const eres = await allResults(cluster.client, cluster.scheduler.url, et);
    t.ok(dres.every((r) => r.DeviceID === device && r.AlgVersion === version) && eres.every((r) => r.DeviceID === edge && r.AlgVersion === version), `device and edge ran ${version}`);
    // Each edge answer (Pts = row of the set) → the device's result that filed that row → its digit.
    const rowToDigit = new Map<number, number>();
    for (const r of dres) { const d = r.TaskResultData.AnalysisResult![0]!.ResultData as { FeatureRow: number; Pts: number }; rowToDigit.set(d.FeatureRow, d.Pts); }
    t.equal(rowToDigit.size, held.labels.length, 'one feature row per held-out digit');
    let correct = 0;
    for (const r of eres) { const d = r.TaskResultData.AnalysisResult![0]!.ResultData as { Class: number; Pts: number }; if (held.labels[rowToDigit.get(d.Pts)!] === d.Class) correct++; }
    t.equal(eres.length, held.labels.length, 'one edge answer per row');
    return { accuracy: correct / eres.length, dres };
  };

  const first = await train(8, '1.0.1');
  t.strictSame(first.Sizes, [400, 64, 10], 'the cloud trained the whole 400 → 64 → 10 network');
  t.equal(first.SampleCount, pool.length, 'on the whole pool');
  t.ok(first.History[7]!.Loss < first.History[0]!.Loss, `loss falls: ${first.History.map((h) => h.Loss.toFixed(3)).join(' → ')}`);
  const repo = ((await cluster.client.send('GET', `${cluster.scheduler.url}/System/AlgorithmRepository`)).body as { AlgorithmList: Array<{ AlgID: number; AlgVersion: string; SignedBy?: string | null; signedBy?: string | null }> }).AlgorithmList;
  t.ok([WHOLE, DEVICE_PART, EDGE_PART].every((a) => { const x = repo.find((r) => r.AlgID === a && r.AlgVersion === '1.0.1'); return (x?.SignedBy ?? x?.signedBy) === trainedKeyId; }), 'the whole and both parts signed with the scheduler\'s trained-models key');

  const one = await splitRun('feat1', '1.0.1');
  await liveRuns('1.0.1');
  // What the device sent on is its model's output (layer 1 of the trained network), not pixels.
  const net = networkFromWire('TrainedModel', first.Sizes, first.Weights);
  let worst = 0;
  for (const r of one.dres.slice(0, 50)) {
    const a = r.TaskResultData.AnalysisResult![0]!;
    const pts = (a.ResultData as { Pts: number }).Pts;
    const want = forward(net, held.features.subarray(pts * 400, (pts + 1) * 400), 0, 1);
    const got = (a.FeatureInfo as { Vector: number[] }).Vector;
    worst = Math.max(worst, ...got.map((v, i) => Math.abs(v - want[i]!)));
  }
  t.ok(worst < 1e-3, `the device's features are the trained first layer's output (largest difference ${worst.toExponential(2)})`);
  const got = await request(`${cluster.executor(device).url}/System/Samples/feat1.rds`, { headers: { authorization: `Bearer ${cluster.token}` } });
  const stored = decodeSamples(Buffer.from(await got.body.arrayBuffer()));
  t.equal(stored.dim, 64, 'the edge reads 64 features per digit from the device, not its 400 pixels');
  t.ok(Math.abs(one.accuracy - first.ValidationAccuracy) <= 0.005, `split across device and edge ${one.accuracy.toFixed(4)} = the whole network on the cloud host ${first.ValidationAccuracy.toFixed(4)}`);
  t.ok(one.accuracy > 0.92, `held-out accuracy device → edge after training: ${one.accuracy.toFixed(3)}`);

  const second = await train(6, '1.0.2');
  t.equal(second.BaseVersion, '1.0.1', 'the second training went on from the published 1.0.1');
  const two = await splitRun('feat2', '1.0.2');
  t.ok(two.accuracy >= one.accuracy - 0.01, `after the second training ${two.accuracy.toFixed(4)} (first ${one.accuracy.toFixed(4)})`);
  await liveRuns('1.0.2');
  t.pass(`the running device task (ModelUpdate "switch") ran ${[...(await liveVersions())].sort().join(', ')}: switched at each training, one TaskID`);
  t.comment(`FIGURE DEC2 split network (device layer 1 → 64 features → edge layer 2): held-out ${one.accuracy.toFixed(4)} after training 1 (whole network on the cloud ${first.ValidationAccuracy.toFixed(4)}), ${two.accuracy.toFixed(4)} after training 2 (${second.ValidationAccuracy.toFixed(4)}); ${held.labels.length} digits, ${stored.dim} features each on the wire instead of 400 pixels`);

  // Bad input fails the task naming the field.
  const badSet = await submit(cluster, 4, [{ DeviceID: device, StreamURL: data.url('heldout') }], { FeatureSet: '../etc' }, DEVICE_PART);
  const bs = await waitTaskEnd(cluster, badSet, 60_000);
  t.equal(bs.ExecutionStatus, 4, 'a FeatureSet that is not a set name fails the task');
  t.match(JSON.stringify(bs), /AlgArgs\.FeatureSet: \\"\.\.\/etc\\" must be a set name/, 'naming the field and the rule');
  const part = await submit(cluster, 7, [{ DeviceID: cloud, StreamURL: data.url('train') }], { Epochs: 1 }, DEVICE_PART);
  t.match(JSON.stringify(await waitTaskEnd(cluster, part, 60_000)), /its model is layers 1\.\.1 of a network, a part; train the package of the whole network/, 'training a part is refused, naming why');
  const fed = await submit(cluster, 7, [{ DeviceID: cloud, StreamURL: data.url('train') }], { Epochs: 1, Federated: true }, WHOLE);
  t.match(JSON.stringify(await waitTaskEnd(cluster, fed, 60_000)), /AlgArgs\.Federated: AlgID 2210 trains a layered network/, 'Federated is refused for a network, naming the field');
  const rewarded = await submit(cluster, 7, [{ DeviceID: cloud, StreamURL: data.url('train') }], { Epochs: 1, Objective: 'reward' }, WHOLE);
  t.match(JSON.stringify(await waitTaskEnd(cluster, rewarded, 60_000)), /AlgArgs\.Objective: AlgID 2210 trains a layered network/, 'so is learning from rewards (the head\'s objective)');
});
