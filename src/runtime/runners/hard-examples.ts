/**
 * Hard-example mining at the edge (DC4): a classification result whose Confidence is below the
 * task's AlgArgs.HardExampleThreshold is marked `HardExample: true` and its sample (the grey
 * pixels of the frame tensor) goes into the executor's bounded sample store, set
 * AlgArgs.HardExampleSet (default "hard"), filed under the class the edge guessed. A stronger
 * cloud stage fetches the set on demand (EC5) and classifies those samples again. With
 * AlgArgs.LabelSet the stronger stage files every sample it classifies under its own answer
 * in that set: labels a weaker model can then be trained on (DC6, EC8: the models co-evolve).
 */
import type { ExecTask } from '../exec-task.ts';
import type { PreparedInput } from './input-spec.ts';
import type { RunContext } from './context.ts';
import { greyOf } from '../sample-store.ts';

/** Marks and keeps the hard results of one frame; `tensor` is the frame's input (still intact). */
export function mineHardExamples(ctx: RunContext, t: ExecTask, frame: PreparedInput, tensor: ArrayBuffer | undefined, results: Array<Record<string, unknown>>, classes: number): void {
  const labelSet = t.algArgs.LabelSet;
  if (typeof labelSet === 'string' && ctx.sampleStore && tensor) {
    for (const x of results) {
      const c = (x.ResultData as { Class?: unknown } | undefined)?.Class;
      if (typeof c === 'number') ctx.sampleStore.add(labelSet, greyOf(tensor, frame.spec), c, classes);
    }
  }
  const threshold = t.algArgs.HardExampleThreshold;
  if (typeof threshold !== 'number' || !ctx.sampleStore || !tensor) return;
  const set = typeof t.algArgs.HardExampleSet === 'string' ? t.algArgs.HardExampleSet : 'hard';
  for (const x of results) {
    const d = x.ResultData as { Confidence?: unknown; Class?: unknown } | undefined;
    if (!d || typeof d.Confidence !== 'number' || d.Confidence >= threshold) continue;
    (d as Record<string, unknown>).HardExample = true;
    ctx.sampleStore.add(set, greyOf(tensor, frame.spec), typeof d.Class === 'number' ? d.Class : 0, classes);
  }
}
