/**
 * What a training task learns from (AlgArgs.Objective, DC7): "labels" (the default) — the
 * samples' classes, supervised — or "reward" — the action a model took on each sample and the
 * reward the application gave it (an RDS2 set a device's FeedbackSet collected), with no labels:
 * the plugin's rd_train takes a policy-gradient step (docs/PLUGINS.md "Training ABI").
 */
import { NO_LABEL, type SampleSet } from '../../plugins/train-blob.ts';
import type { TrainObjective } from '../../plugins/train-pool.ts';
import { TrainArgsError } from './train-errors.ts';

/** AlgArgs.Objective, checked. */
export function objectiveArg(a: Record<string, unknown>): TrainObjective {
  const o = a.Objective ?? 'labels';
  if (o !== 'labels' && o !== 'reward') throw new TrainArgsError(`InputInfo.AlgArgs.Objective: ${JSON.stringify(o)} must be "labels" or "reward"`);
  return o;
}

/** Keeps the samples of `s` at `keep`, feedback included. */
function pick(s: SampleSet, keep: number[]): SampleSet {
  const features = new Float32Array(keep.length * s.dim);
  keep.forEach((i, k) => features.set(s.features.subarray(i * s.dim, (i + 1) * s.dim), k * s.dim));
  const f = s.feedback;
  return {
    dim: s.dim, classes: s.classes, features, labels: Uint8Array.from(keep, (i) => s.labels[i]!),
    ...(f ? { feedback: { actions: Uint8Array.from(keep, (i) => f.actions[i]!), rewards: Float32Array.from(keep, (i) => f.rewards[i]!), pts: Float64Array.from(keep, (i) => f.pts[i]!) } } : {}),
  };
}

/**
 * The samples the objective can learn from: for "reward" those that got a reward (the set must
 * carry feedback); for "labels" those with a label (all of an RDS1 set). Refuses, naming the
 * field, a set with none.
 */
export function samplesFor(objective: TrainObjective, s: SampleSet): SampleSet {
  const all = Array.from(s.labels, (_, i) => i);
  if (objective === 'reward') {
    if (!s.feedback) throw new TrainArgsError('InputInfo.StreamURL: AlgArgs.Objective "reward" needs a set with actions and rewards (RDS2, an executor\'s FeedbackSet); this one has labels only');
    const rewards = s.feedback.rewards;
    const keep = all.filter((i) => !Number.isNaN(rewards[i]!));
    if (!keep.length) throw new TrainArgsError('InputInfo.StreamURL: no sample in the set has a reward yet (POST /System/Samples/{Set}/Feedback gives them)');
    return keep.length === all.length ? s : pick(s, keep);
  }
  if (!s.feedback) return s;
  const keep = all.filter((i) => s.labels[i] !== NO_LABEL);
  if (!keep.length) throw new TrainArgsError('InputInfo.StreamURL: no sample in the set has a label; train on its rewards with AlgArgs.Objective "reward"');
  return keep.length === all.length ? s : pick(s, keep);
}
