/**
 * Task-order strategies (M3, SB3, M5): when the scheduler holds tasks back (its limit on
 * concurrent tasks is reached, SB5), a strategy says which waiting task starts next. Each
 * strategy is one file; a custom one is an ES module exporting `strategy: TaskOrderStrategy`,
 * named by `--task-order <file>` (docs/examples/task-order-fusion-first.mjs is one).
 */

/** A task waiting at the scheduler for a slot. */
export interface WaitingTask {
  taskId: string;
  /** Table 17 Priority, 1–10, higher first (5 when the request gave none). */
  priority: number;
  /** When it began to wait (ms). */
  queuedAt: number;
  /** The initiator that submitted it (null: a node or the operator). */
  owner: string | null;
  /** Table 17 TaskType, when given. */
  taskType?: number;
}

/** Picks the next task to start; `waiting` is never empty. Must be a pure function of its arguments. */
export interface TaskOrderStrategy {
  name: string;
  next(waiting: readonly WaitingTask[], now: number): WaitingTask;
}
