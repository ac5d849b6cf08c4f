/**
 * DC7: the bytes and the ABI of learning from rewards. A sample set with feedback (RDS2:
 * actions, rewards, Pts, optional labels) reads back as written; malformed ones — generated
 * by fast-check — are refused naming the field, never accepted as something else. The
 * digit_classifier example's rd_train, in the real sandbox, learns a policy from bandit
 * feedback alone (which action was right, never the label), and the host refuses a reward
 * objective over a set without rewards.
 */
import t from 'tap';
import path from 'node:path';
import fc from 'fast-check';
import { BlobError, decodeSamples, encodeFeedbackSamples, encodeSamples, NO_LABEL, type SampleSet } from '../../src/plugins/train-blob.ts';
import { headAccuracy } from '../../src/plugins/head-eval.ts';
import { TrainPool } from '../../src/plugins/train-pool.ts';
import type { LoadedPlugin } from '../../src/plugins/loaded-plugin.ts';
import type { ClassifierWeights } from '../../src/plugins/onnx-writer.ts';
import { objectiveArg, samplesFor } from '../../src/runtime/runners/train-objective.ts';
import { buildExamples } from '../helpers/examples.ts';
import { FC_SEED } from '../helpers/seed.ts';

const root = path.resolve(import.meta.dirname, '..', '..');

/** A feedback set of `n` samples of `dim` features and `classes` classes. */
function feedbackSet(n: number, dim: number, classes: number, over: Partial<SampleSet['feedback'] & { labels: Uint8Array }> = {}): SampleSet & { feedback: NonNullable<SampleSet['feedback']> } {
  return {
    dim, classes, features: Float32Array.from({ length: n * dim }, (_, i) => (i % 7) / 7), labels: over.labels ?? new Uint8Array(n).fill(NO_LABEL),
    feedback: { actions: over.actions ?? Uint8Array.from({ length: n }, (_, i) => i % classes), rewards: over.rewards ?? Float32Array.from({ length: n }, (_, i) => (i % 2 ? 1 : 0)), pts: over.pts ?? Float64Array.from({ length: n }, (_, i) => i * 40) },
  };
}

t.test('DC7: an RDS2 set (actions, rewards, Pts, labels or none) reads back as written', async (t) => {
  const s = feedbackSet(5, 4, 3, { labels: Uint8Array.from([0, NO_LABEL, 2, NO_LABEL, 1]), rewards: Float32Array.from([1, 0, 0.25, Number.NaN, 0.5]) });
  const back = decodeSamples(encodeFeedbackSamples(s));
  t.strictSame(Array.from(back.labels), Array.from(s.labels));
  t.strictSame(Array.from(back.features), Array.from(s.features));
  t.strictSame(Array.from(back.feedback!.actions), Array.from(s.feedback.actions));
  t.strictSame(Array.from(back.feedback!.rewards).map(String), ['1', '0', '0.25', 'NaN', '0.5'], 'NaN: no reward yet');
  t.strictSame(Array.from(back.feedback!.pts), [0, 40, 80, 120, 160]);
  t.equal(decodeSamples(encodeSamples({ dim: 4, classes: 3, features: new Float32Array(4), labels: Uint8Array.from([1]) })).feedback, undefined, 'an RDS1 set has no feedback');
});

t.test('DC7: malformed RDS2 sets are refused naming the field and the rule', async (t) => {
  const good = encodeFeedbackSamples(feedbackSet(2, 4, 3));
  const at = { labels: 16 + 2 * 16, actions: 16 + 2 * 16 + 2, rewards: 16 + 2 * 16 + 4, pts: 16 + 2 * 16 + 12 };
  const patch = (f: (b: Buffer) => void) => { const b = Buffer.from(good); f(b); return b; };
  t.throws(() => decodeSamples(patch((b) => { b[at.labels + 1] = 3; })), /samples\.labels\[1\]: 3 is neither a class below 3 nor 255 \(no label\)/);
  t.throws(() => decodeSamples(patch((b) => { b[at.actions] = 9; })), /samples\.actions\[0\]: 9 is not a class below 3/);
  t.throws(() => decodeSamples(patch((b) => b.writeFloatLE(1.5, at.rewards + 4))), /samples\.rewards\[1\]: 1\.5 must be in 0\.\.1 \(or NaN: no reward yet\)/);
  t.throws(() => decodeSamples(patch((b) => b.writeFloatLE(Number.POSITIVE_INFINITY, at.rewards))), /samples\.rewards\[0\]: Infinity must be in 0\.\.1/);
  t.throws(() => decodeSamples(patch((b) => b.writeDoubleLE(-1, at.pts + 8))), /samples\.pts\[1\]: -1 must be a finite number ≥ 0/);
  t.throws(() => decodeSamples(patch((b) => b.writeUInt32LE(256, 12))), /samples\.classes: 256 must be in 2\.\.255/);
  t.throws(() => decodeSamples(good.subarray(0, good.length - 1)), /samples: \d+ bytes, the RDS2 header \(count 2, dim 4\) needs exactly/);
  t.throws(() => encodeFeedbackSamples({ ...feedbackSet(2, 4, 3), feedback: { ...feedbackSet(2, 4, 3).feedback, rewards: new Float32Array(1) } }), /samples\.feedback: actions, rewards and pts must have 2 values each/);
  // Generated: any bytes after a valid RDS2 header, or a valid set with bytes flipped, either
  // decode to a set whose every field is in range or are refused with a BlobError.
  let refused = 0;
  fc.assert(fc.property(fc.oneof(
    fc.uint8Array({ minLength: 0, maxLength: 200 }).map((tail) => Buffer.concat([good.subarray(0, 16), Buffer.from(tail)])),
    fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 6 }).map((flips) => patch((b) => { for (const [i, x] of flips) b[i] = b[i]! ^ x; })),
  ), (bytes) => {
    let s: SampleSet;
    try {
      s = decodeSamples(bytes);
    } catch (err) {
      if (!(err instanceof BlobError)) throw err;
      refused++;
      return;
    }
    const f = s.feedback;
    if (!f) return; // the magic was flipped to RDS1's and the rest happens to fit: checked as RDS1
    for (let i = 0; i < s.labels.length; i++) {
      if (f.actions[i]! >= s.classes || (s.labels[i]! >= s.classes && s.labels[i] !== NO_LABEL)) throw new Error(`sample ${i}: class out of range accepted`);
      if (!Number.isNaN(f.rewards[i]) && !(f.rewards[i]! >= 0 && f.rewards[i]! <= 1)) throw new Error(`sample ${i}: reward ${f.rewards[i]} accepted`);
      if (!Number.isFinite(f.pts[i]) || f.pts[i]! < 0) throw new Error(`sample ${i}: Pts ${f.pts[i]} accepted`);
    }
    if (!s.features.every(Number.isFinite)) throw new Error('a non-finite feature accepted');
  }), { numRuns: 400, seed: FC_SEED });
  t.ok(refused > 0, `${refused} of 400 generated sets refused with a BlobError, the rest in range`);
});

t.test('DC7: the objective picks what a set can teach; a reward objective over labels alone is refused naming the field', async (t) => {
  t.equal(objectiveArg({}), 'labels');
  t.equal(objectiveArg({ Objective: 'reward' }), 'reward');
  t.throws(() => objectiveArg({ Objective: 'rl' }), /InputInfo\.AlgArgs\.Objective: "rl" must be "labels" or "reward"/);
  const s = feedbackSet(4, 4, 3, { labels: Uint8Array.from([NO_LABEL, 2, NO_LABEL, NO_LABEL]), rewards: Float32Array.from([1, Number.NaN, 0, 1]), pts: Float64Array.from([5, 6, 7, 8]) });
  const r = samplesFor('reward', s);
  t.strictSame(Array.from(r.feedback!.pts), [5, 7, 8], 'reward: the samples that got a reward');
  t.strictSame(Array.from(r.features.subarray(4, 8)), Array.from(s.features.subarray(8, 12)), 'with their own features');
  t.strictSame(Array.from(samplesFor('labels', s).feedback!.pts), [6], 'labels: the samples with a label');
  t.throws(() => samplesFor('reward', { dim: 4, classes: 3, features: new Float32Array(4), labels: Uint8Array.from([1]) }), /InputInfo\.StreamURL: AlgArgs\.Objective "reward" needs a set with actions and rewards/);
  t.throws(() => samplesFor('reward', feedbackSet(2, 4, 3, { rewards: Float32Array.from([Number.NaN, Number.NaN]) })), /no sample in the set has a reward yet/);
  t.throws(() => samplesFor('labels', feedbackSet(2, 4, 3)), /no sample in the set has a label; train on its rewards/);
});

t.test('DC7: the example rd_train learns a policy from bandit feedback alone (a policy gradient on how likely each observed reward is), in the sandbox', async (t) => {
  t.equal(buildExamples(), 0, 'example plugins built');
  const dim = 8, classes = 3, n = 600;
  // Class c lights features 2c and 2c+1; a little noise everywhere.
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const truth = Uint8Array.from({ length: n }, () => Math.floor(rnd() * classes));
  const features = Float32Array.from({ length: n * dim }, (_, k) => { const i = Math.floor(k / dim), d = k % dim; return (Math.floor(d / 2) === truth[i] ? 0.8 : 0) + rnd() * 0.2; });
  // A uniformly random policy acted; the application said only whether each action was right.
  const actions = Uint8Array.from({ length: n }, () => Math.floor(rnd() * classes));
  const rewards = Float32Array.from(actions, (a, i) => (a === truth[i] ? 1 : 0));
  const set: SampleSet = { dim, classes, features, labels: new Uint8Array(n).fill(NO_LABEL), feedback: { actions, rewards, pts: Float64Array.from(actions, (_, i) => i) } };
  const plugin = {
    wasmPath: path.join(root, 'plugins-sdk', 'examples', 'digit_classifier', 'build', 'plugin.wasm'), memoryInitialPages: 16, memoryMaximumPages: 1024,
    manifest: { AlgType: 'digit_classifier', AlgVersion: '1.0.0', limits: { callDeadlineMs: 20_000, maxOutputBytes: 1 << 20 } },
  } as unknown as LoadedPlugin;
  const pool = new TrainPool();
  t.teardown(() => pool.close());
  let w: ClassifierWeights = { dim, classes, weights: new Float32Array(dim * classes), bias: new Float32Array(classes) };
  const labelled = { dim, classes, features, labels: truth };
  t.equal(headAccuracy(w, labelled), truth.filter((y) => y === 0).length / n, 'zero weights: every sample is class 0');
  let meanReward = 0;
  for (let e = 0; e < 10; e++) {
    const r = await pool.epoch(plugin, set, w, { Epochs: 10, LearningRate: 1, BatchSize: 16, L2: 0, Objective: 'reward' }, e);
    w = r.weights;
    meanReward = r.metrics.MeanReward!;
  }
  const acc = headAccuracy(w, labelled);
  t.comment(`FIGURE reward-only policy: random logging policy (mean reward ${meanReward.toFixed(3)}), 10 epochs from rewards alone → accuracy ${acc.toFixed(3)} on the true classes`);
  t.ok(Math.abs(meanReward - rewards.reduce((a, b) => a + b) / n) < 1e-6, 'MeanReward: the set\'s mean reward');
  t.ok(acc > 0.9, `a policy learned from rewards alone: ${acc.toFixed(3)}`);
  await t.rejects(pool.epoch(plugin, { ...set, feedback: undefined }, w, { Epochs: 1, LearningRate: 1, BatchSize: 16, L2: 0, Objective: 'reward' }, 0), /Objective "reward" needs samples with actions and rewards/);
});
