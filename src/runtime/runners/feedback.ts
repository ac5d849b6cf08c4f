/**
 * Reinforcement from where the model acts (DC7): an inference task with AlgArgs.FeedbackSet
 * keeps each sample it classified — the grey pixels of the frame tensor — with the action it
 * took (its Class) and the result's Pts in the executor's feedback store, so that the
 * application's rewards (`POST /System/Samples/{Set}/Feedback`) find it, and the cloud can
 * later learn from what the device did and how it went.
 */
import type { ExecTask } from '../exec-task.ts';
import type { PreparedInput } from './input-spec.ts';
import type { RunContext } from './context.ts';
import { greyOf, SAMPLE_SET_NAME } from '../sample-store.ts';

/** Thrown for a FeedbackSet that cannot be a set's name: the message names the field and the rule. */
export class FeedbackArgsError extends Error {}

/** The task's FeedbackSet, checked; undefined when it keeps none. */
export function feedbackSetArg(a: Record<string, unknown>): string | undefined {
  const v = a.FeedbackSet;
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !SAMPLE_SET_NAME.test(v)) throw new FeedbackArgsError(`InputInfo.AlgArgs.FeedbackSet: ${JSON.stringify(v)} must be 1..64 letters, digits, _ or -`);
  return v;
}

/** Keeps the samples of one frame's classification results for feedback; `tensor` is the frame's input (still intact). */
export function keepForFeedback(ctx: RunContext, t: ExecTask, frame: PreparedInput, ptsMs: number, tensor: ArrayBuffer | undefined, results: Array<Record<string, unknown>>, classes: number): void {
  const set = feedbackSetArg(t.algArgs);
  if (!set || !ctx.feedbackStore || !tensor) return;
  // One name, one set: GET /System/Samples/{Set} would serve the hard-example set instead.
  if (ctx.sampleStore?.count(set)) throw new FeedbackArgsError(`InputInfo.AlgArgs.FeedbackSet: "${set}" is a hard-example or label set on this executor; give the feedback set another name`);
  for (const x of results) {
    const c = (x.ResultData as { Class?: unknown } | undefined)?.Class;
    // The Pts the result will carry (plugin.ts rounds it so): the key feedback names it by.
    if (typeof c === 'number') ctx.feedbackStore.keep(set, greyOf(tensor, frame.spec), c, Math.round(ptsMs), classes);
  }
}
