/**
 * EC2, EE2, EE3: federated learning across real processes. Three edges hold shards of OpenCV's
 * digits whose class mix differs (each mostly its own classes) as files on their own disks;
 * each round is a TaskType 7 task with AlgArgs.Federated on all three: every edge trains one
 * epoch from the current global version and sends only its weights and sample count; the
 * scheduler averages them weighted by sample count (FedAvg), publishes the aggregate as the next
 * version, and the next round's dispatch pushes it down. Ten rounds; held-out accuracy per
 * round against one edge's shard alone and all shards pooled.
 */
import t from 'tap';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { waitFor, waitTaskEnd } from '../helpers/cluster.ts';
import { buildExamples, example, publish } from '../helpers/examples.ts';
import { allResults, accuracyBy, haveDigits, loadDigits, serveSamples, skewedShards, split, subset } from '../helpers/digits.ts';
import { edgeDisks, learningCluster, publishedVersions, submit } from '../helpers/learning.ts';
import { weightsFromBase64 } from '../../src/plugins/train-blob.ts';
import { readClassifierOnnx } from '../../src/plugins/onnx-writer.ts';
import { readTarGz } from '../../src/plugins/package-file.ts';
import type { TaskResultBody } from '../../src/protocol/index.ts';

const ROUNDS = 10;


t.test('EC2, EE2, EE3: three edges with skewed shards train federated for 10 rounds; the scheduler averages their weights by sample count and pushes the aggregate; raw samples stay on the edges', { skip: haveDigits() ? false : 'opencv-doc (digits.png) is not installed' }, async (t) => {
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
  // Each shard lives on its edge's own disk: the only copy of those samples outside this test.
  // (A short path of their own: a StreamURL is at most 256 bytes.)
  const disks = edgeDisks();
  t.teardown(() => disks.remove());
  const files = shards.map((s, i) => disks.put(edges[i]!, 'shard.rds', s));
  t.comment(`shards: ${shards.map((s, i) => `${edges[i]} ${s.labels.length} samples, classes ${[...new Set(s.labels)].sort().join('')}`).join('; ')}`);

  const evaluate = async (): Promise<{ version: string; accuracy: number }> => {
    const id = await submit(cluster, 6, [{ DeviceID: edges[0]!, StreamURL: data.url('heldout') }]);
    t.equal((await waitTaskEnd(cluster, id, 120_000)).ExecutionStatus, 0, `held-out task ${id} done`);
    const [[k, v]] = [...accuracyBy(await allResults(cluster.client, cluster.scheduler.url, id), held.labels)] as unknown as [[string, { accuracy: number; n: number }]];
    t.equal(v.n, held.labels.length, 'every held-out digit classified');
    return { version: k.split(' ')[1]!, accuracy: v.accuracy };
  };
  const perRound: Array<{ version: string; accuracy: number }> = [];
  let lastRound: TaskResultBody[] = [];
  for (let r = 1; r <= ROUNDS; r++) {
    const before = (await publishedVersions(cluster)).length;
    const id = await submit(cluster, 7, files.map((f, i) => ({ DeviceID: edges[i]!, StreamURL: f })), { Federated: true, Epochs: 1, LearningRate: 0.5, BatchSize: 32 });
    t.equal((await waitTaskEnd(cluster, id, 120_000)).ExecutionStatus, 0, `round ${r}: all three edges trained`);
    await waitFor(`round ${r}'s aggregate published`, async () => ((await publishedVersions(cluster)).length > before ? true : undefined), 15_000);
    lastRound = await allResults(cluster.client, cluster.scheduler.url, id);
    perRound.push(await evaluate());
  }
  t.strictSame(perRound.map((x) => x.version), Array.from({ length: ROUNDS }, (_, i) => `1.0.${i + 1}`), 'one aggregate version per round, each pushed to the next round and the held-out task');

  // Only weights went up: no result of a federated round carries samples, and the aggregate is their FedAvg.
  t.equal(lastRound.length, 3, 'one update per edge in the last round');
  const updates = lastRound.map((b) => b.TaskResultData.AnalysisResult![0]!.ResultData!.TrainedModel as { Weights: string; SampleCount: number; Dim: number; Classes: number });
  t.ok(lastRound.every((b) => JSON.stringify(b).length < 30_000 && !b.TaskResultData.ImageResult && !b.TaskResultData.VideoResult), 'each update is a weights vector (about 21 KB of base64), no image or sample');
  t.strictSame(updates.map((u) => u.SampleCount).sort(), shards.map((s) => s.labels.length).sort(), 'each edge trained on its own shard');
  const pkg = readFileSync(path.join(dir, 'scheduler', 'repository', '2201', `1.0.${ROUNDS}.rpk`));
  const model = readClassifierOnnx(readTarGz(pkg).get('files/models/digits.onnx')!);
  const total = updates.reduce((s, u) => s + u.SampleCount, 0);
  const ws = updates.map((u) => weightsFromBase64('w', u.Weights, u.Dim, u.Classes));
  let maxErr = 0;
  for (let i = 0; i < model.weights.length; i += 97) {
    const avg = ws.reduce((s, w, k) => s + (w.weights[i]! * updates[k]!.SampleCount) / total, 0);
    maxErr = Math.max(maxErr, Math.abs(avg - model.weights[i]!));
  }
  t.ok(maxErr < 1e-5, `the published aggregate is the sample-weighted average of the three updates (max error ${maxErr.toExponential(1)})`);

  // Baselines, from zero weights for the same 10 epochs: one edge's shard alone, and all shards pooled.
  const baseline = async (f: string, device: string): Promise<number> => {
    const n = (await publishedVersions(cluster)).length;
    const id = await submit(cluster, 7, [{ DeviceID: device, StreamURL: f }], { Epochs: ROUNDS, LearningRate: 0.5, BatchSize: 32, Restart: true });
    t.equal((await waitTaskEnd(cluster, id, 120_000)).ExecutionStatus, 0, `baseline on ${path.basename(f)} trained`);
    await waitFor('baseline published', async () => ((await publishedVersions(cluster)).length > n ? true : undefined), 15_000);
    return (await evaluate()).accuracy;
  };
  const alone = await baseline(files[0]!, edges[0]!);
  const pooledFile = disks.put(edges[0]!, 'pooled.rds', subset(digits, pool));
  const pooled = await baseline(pooledFile, edges[0]!);
  const fed = perRound[ROUNDS - 1]!.accuracy;
  t.comment(`FIGURE federated: rounds ${perRound.map((x) => x.accuracy.toFixed(4)).join(' ')} | edge-1 shard alone ${alone.toFixed(4)} | pooled ${pooled.toFixed(4)}`);
  t.ok(fed > alone + 0.1, `federated (${fed.toFixed(3)}) beats one skewed shard alone (${alone.toFixed(3)})`);
  t.ok(fed > pooled - 0.05, `federated (${fed.toFixed(3)}) comes within 5 points of all data pooled (${pooled.toFixed(3)})`);
  t.ok(perRound[ROUNDS - 1]!.accuracy >= perRound[0]!.accuracy, 'accuracy after the last round is no worse than after the first');
});
