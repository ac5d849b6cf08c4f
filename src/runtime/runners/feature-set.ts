/**
 * Features kept for the next tier (DEC2): an inference task with AlgArgs.FeatureSet files each
 * result's FeatureInfo.Vector — what the plugin's model computed from the frame, not its pixels —
 * as one row of that set in the executor's bounded sample store, served at
 * GET /System/Samples/{Set}. An edge task whose StreamURL is that set reads the rows as its
 * frames (row r has Pts r) and recognises them. The result is marked ResultData.FeatureSet and
 * FeatureRow, the row its vector went to, so an edge's answer for row r is matched to the
 * device's frame. Rows are unlabelled (the device does not know the class): label 0 of 2.
 * The set is bounded like every sample set: once full, the oldest rows go and rows renumber.
 */
import type { ExecTask } from '../exec-task.ts';
import type { RunContext } from './context.ts';
import { SAMPLE_SET_NAME } from '../sample-store.ts';

/** Thrown for a FeatureSet argument that cannot be used: names the field and the rule. */
export class FeatureSetError extends Error {}

/** The task's AlgArgs.FeatureSet, checked; undefined when it files none. */
export function featureSetArg(a: Record<string, unknown>): string | undefined {
  const v = a.FeatureSet;
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !SAMPLE_SET_NAME.test(v)) throw new FeatureSetError(`InputInfo.AlgArgs.FeatureSet: ${JSON.stringify(v)} must be a set name (letters, digits, _ and -, at most 64)`);
  return v;
}

/** Files the feature vectors of one frame's results; a result without a usable vector is left as it is. */
export function fileFeatures(ctx: RunContext, t: ExecTask, results: Array<Record<string, unknown>>): void {
  const set = featureSetArg(t.algArgs);
  if (!set || !ctx.sampleStore) return;
  for (const x of results) {
    const v = (x.FeatureInfo as { Vector?: unknown } | undefined)?.Vector;
    if (!Array.isArray(v) || !v.length || v.length > 1 << 20 || !v.every((e) => typeof e === 'number' && Number.isFinite(e))) continue;
    try {
      ctx.sampleStore.add(set, Float32Array.from(v as number[]), 0, 2);
    } catch (err) {
      // A vector of another length than the set's rows: this result is not filed, the task goes on.
      ctx.log.warn({ task: t.id, set, err: (err as Error).message }, 'feature vector not filed');
      continue;
    }
    const r = (x.ResultData ??= {}) as Record<string, unknown>;
    r.FeatureSet = set;
    r.FeatureRow = ctx.sampleStore.count(set) - 1;
  }
}
