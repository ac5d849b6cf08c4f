/**
 * Table 31 life cycle as the scheduler applies executors' reports: done (0) and failed (4) are
 * final. A report that would move a finished subtask back to queued, running or paused is
 * stale (it was sent before the end and arrived after it) and is ignored, so status is never
 * last-writer-wins. The scheduler's own decisions (a retry re-queues a failed subtask) do not
 * go through here.
 */
import { ExecutionStatus } from '../protocol/index.ts';

const FINAL: ReadonlySet<number> = new Set([ExecutionStatus.Done, ExecutionStatus.Error]);

export function isFinal(status: number): boolean {
  return FINAL.has(status);
}

/**
 * Whether an executor's report may be applied to a subtask now in `current`. Not even the same
 * final status again: a repeated error report would start a second retry.
 */
export function acceptsReport(current: number): boolean {
  return !isFinal(current);
}
