/**
 * Dynamic priority with ageing (SB3): a waiting task gains one priority point per `stepMs` it has
 * waited (up to 10), so a low-priority task cannot starve behind a stream of high-priority ones.
 * Ties go to the longer wait.
 */
import type { TaskOrderStrategy, WaitingTask } from './types.ts';

/** Default ageing: one point per minute waited. */
export const AGEING_STEP_MS = 60_000;

export function effectivePriority(w: WaitingTask, now: number, stepMs: number): number {
  return Math.min(10, w.priority + Math.floor(Math.max(0, now - w.queuedAt) / stepMs));
}

export function ageing(stepMs = AGEING_STEP_MS): TaskOrderStrategy {
  return {
    name: 'ageing',
    next: (waiting, now) => waiting.reduce((best, w) => {
      const a = effectivePriority(w, now, stepMs), b = effectivePriority(best, now, stepMs);
      return a > b || (a === b && w.queuedAt < best.queuedAt) ? w : best;
    }),
  };
}
