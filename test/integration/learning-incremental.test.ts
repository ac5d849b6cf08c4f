/**
 * DC5, DC7: incremental learning across real processes. The cloud trains the digit classifier
 * on data that lacks three classes (7, 8, 9) and publishes it; an edge that sees those classes
 * trains further on its own samples, from the version it was given (not from zero), and
 * publishes the next version: held-out accuracy before and after on all ten classes.
 */
import t from 'tap';
import { waitFor, waitTaskEnd } from '../helpers/cluster.ts';
import { buildExamples, example, publish } from '../helpers/examples.ts';
import { allResults, accuracyBy, haveDigits, loadDigits, serveSamples, split, subset } from '../helpers/digits.ts';
import { learningCluster, submit } from '../helpers/learning.ts';

t.test('DC5, DC7: an edge trains the cloud-trained model further on its own data (from that version), and held-out accuracy rises', { skip: haveDigits() ? false : 'opencv-doc (digits.png) is not installed' }, async (t) => {
  t.equal(buildExamples(), 0, 'example plugins built');
  const dir = t.testdir({});
  const digits = await loadDigits();
  const { heldOut, pool } = split(digits);
  const held = subset(digits, heldOut);
  const cloudIds = pool.filter((i) => digits.labels[i]! < 7);
  // The edge's own data: mostly the classes the cloud never saw, a little of the rest.
  const edgeIds = pool.filter((i, k) => digits.labels[i]! >= 7 ? k % 2 === 0 : k % 10 === 0);
  const data = await serveSamples({ cloud: subset(digits, cloudIds), edge: subset(digits, edgeIds), heldout: held });
  t.teardown(() => data.close());
  const { cluster } = await learningCluster(dir, 2);
  t.teardown(() => cluster.stop());
  t.equal(publish(cluster, example('digit_classifier-1.0.0')).status, 0, 'digit_classifier 1.0.0 published');
  const [cloud, edge] = cluster.executorIds as [string, string];
  const versions = async () => ((await cluster.client.send('GET', `${cluster.scheduler.url}/System/AlgorithmRepository`)).body as { AlgorithmList: Array<{ AlgID: number; AlgVersion: string }> }).AlgorithmList.filter((x) => x.AlgID === 2201).map((x) => x.AlgVersion);
  const train = async (device: string, set: string, version: string) => {
    const id = await submit(cluster, 7, [{ DeviceID: device, StreamURL: data.url(set) }], { Epochs: 3 });
    t.equal((await waitTaskEnd(cluster, id, 120_000)).ExecutionStatus, 0, `training on ${set} done`);
    await waitFor(`${version} published`, async () => ((await versions()).includes(version) ? true : undefined), 15_000);
    return (await allResults(cluster.client, cluster.scheduler.url, id))[0]!;
  };
  const evaluate = async () => {
    const id = await submit(cluster, 6, [{ DeviceID: edge, StreamURL: data.url('heldout') }]);
    t.equal((await waitTaskEnd(cluster, id, 120_000)).ExecutionStatus, 0, 'held-out task done');
    return [...accuracyBy(await allResults(cluster.client, cluster.scheduler.url, id), held.labels)][0]!;
  };
  await train(cloud, 'cloud', '1.0.1');
  const [vb, before] = await evaluate();
  const r = await train(edge, 'edge', '1.0.2');
  t.equal(r.DeviceID, edge, 'the increment was trained on the edge');
  t.equal(r.AlgVersion, '1.0.1', 'starting from the cloud-trained version');
  const [va, after] = await evaluate();
  t.comment(`FIGURE incremental: ${vb} ${before.accuracy.toFixed(4)} -> ${va} ${after.accuracy.toFixed(4)} (edge samples ${edgeIds.length}, cloud samples ${cloudIds.length})`);
  t.ok(before.accuracy < 0.75, `cloud model (no 7, 8, 9): ${before.accuracy.toFixed(3)}`);
  t.ok(after.accuracy > before.accuracy + 0.1, `after the edge's increment: ${after.accuracy.toFixed(3)}`);
});
