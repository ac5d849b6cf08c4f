/**
 * EE2 (co-training by gradient exchange) across real processes: three edges with skewed shards
 * of OpenCV's digits train federated rounds and send only the change their training made, and of
 * it only the 10 % of positions that changed most (AlgArgs.Exchange "gradients", TopK 0.1); the
 * scheduler adds the sample-weighted mean of the changes to the version they started from,
 * publishes it, and the next round starts from it. Figures: held-out accuracy per round and the
 * bytes an edge sends per round against whole weights.
 */
import t from 'tap';
import { waitFor, waitTaskEnd } from '../helpers/cluster.ts';
import { buildExamples, example, publish } from '../helpers/examples.ts';
import { allResults, accuracyBy, haveDigits, loadDigits, serveSamples, skewedShards, split, subset } from '../helpers/digits.ts';
import { edgeDisks, learningCluster, publishedVersions, submit } from '../helpers/learning.ts';

const ROUNDS = 5;


t.test('EE2: three edges exchange top-10 % gradient changes for 5 rounds; the scheduler adds their weighted mean to the version they started from', { skip: haveDigits() ? false : 'opencv-doc (digits.png) is not installed' }, async (t) => {
  t.equal(buildExamples(), 0, 'example plugins built');
  const dir = t.testdir({});
  const digits = await loadDigits();
  const { heldOut, pool } = split(digits);
  const held = subset(digits, heldOut);
  const shards = skewedShards(digits, pool, [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]).map((ids) => subset(digits, ids));
  const data = await serveSamples({ heldout: held });
  t.teardown(() => data.close());
  const { cluster } = await learningCluster(dir, 3);
  t.teardown(() => cluster.stop());
  t.equal(publish(cluster, example('digit_classifier-1.0.0')).status, 0, 'digit_classifier 1.0.0 published');
  const edges = cluster.executorIds;
  const disks = edgeDisks();
  t.teardown(() => disks.remove());
  const files = shards.map((s, i) => disks.put(edges[i]!, 'shard.rds', s));

  const evaluate = async (): Promise<{ version: string; accuracy: number }> => {
    const id = await submit(cluster, 6, [{ DeviceID: edges[0]!, StreamURL: data.url('heldout') }]);
    t.equal((await waitTaskEnd(cluster, id, 120_000)).ExecutionStatus, 0, `held-out task ${id} done`);
    const [[k, v]] = [...accuracyBy(await allResults(cluster.client, cluster.scheduler.url, id), held.labels)] as unknown as [[string, { accuracy: number; n: number }]];
    return { version: k.split(' ')[1]!, accuracy: v.accuracy };
  };
  const before = await evaluate();
  const perRound: Array<{ version: string; accuracy: number }> = [];
  const sent: number[] = [];
  for (let r = 1; r <= ROUNDS; r++) {
    const n = (await publishedVersions(cluster)).length;
    const id = await submit(cluster, 7, files.map((f, i) => ({ DeviceID: edges[i]!, StreamURL: f })), { Federated: true, Exchange: 'gradients', TopK: 0.1, Epochs: 1, LearningRate: 0.5, BatchSize: 32 });
    t.equal((await waitTaskEnd(cluster, id, 120_000)).ExecutionStatus, 0, `round ${r}: all three edges trained`);
    await waitFor(`round ${r}'s aggregate published`, async () => ((await publishedVersions(cluster)).length > n ? true : undefined), 15_000);
    const results = await allResults(cluster.client, cluster.scheduler.url, id);
    const updates = results.map((b) => b.TaskResultData.AnalysisResult![0]!.ResultData!.TrainedModel as { Delta?: { Indices?: string; Values: string }; Weights?: unknown });
    t.ok(updates.length === 3 && updates.every((u) => u.Delta?.Indices && u.Weights === undefined), `round ${r}: each edge sent a sparse change, not its weights`);
    sent.push(...updates.map((u) => u.Delta!.Indices!.length + u.Delta!.Values.length));
    perRound.push(await evaluate());
  }
  const dense = Math.ceil(((400 * 10 + 10) * 4) / 3) * 4; // base64 of 4,010 float32
  const mean = sent.reduce((a, b) => a + b, 0) / sent.length;
  t.strictSame(perRound.map((x) => x.version), Array.from({ length: ROUNDS }, (_, i) => `1.0.${i + 1}`), 'one version per round, each the start of the next');
  t.comment(`FIGURE gradients: held-out before ${before.accuracy.toFixed(4)} | rounds ${perRound.map((x) => x.accuracy.toFixed(4)).join(' ')} | bytes per edge per round ${Math.round(mean)} vs ${dense} for whole weights`);
  t.ok(mean < dense * 0.25, `an edge sends ${Math.round(mean)} bytes of base64 per round, under a quarter of whole weights (${dense})`);
  t.ok(perRound[ROUNDS - 1]!.accuracy > before.accuracy + 0.3, `held-out accuracy ${before.accuracy.toFixed(3)} → ${perRound[ROUNDS - 1]!.accuracy.toFixed(3)} from sparse changes alone`);
});
