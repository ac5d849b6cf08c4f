/** When a frame loop may take its next frame: not paused, and its results not backed up in the outbox. */
import { ExecutionStatus } from '../../protocol/index.ts';
import type { ExecTask } from '../exec-task.ts';
import { OUTBOX_HIGH_WATER, OUTBOX_LOW_WATER, type RunContext } from './context.ts';

/** How soon a pause, resume or stop is seen while a loop waits (they have no event of their own). */
const STATUS_RECHECK_MS = 50;

/**
 * Resolves true when task `t` may take its next frame, false when it finished (stopped) or the
 * executor is closing. It waits while the task is paused, and — once more than
 * OUTBOX_HIGH_WATER of its results wait in the outbox — until the deliveries have brought them
 * down to OUTBOX_LOW_WATER. The backlog is the outbox's count in memory, read per frame without
 * a query; the wait is woken by the deliveries themselves (Outbox.drained), not by polling it.
 */
export async function admit(ctx: RunContext, t: ExecTask): Promise<boolean> {
  // The per-frame case: running, not backed up.
  if (t.finished || ctx.closed) return false;
  if (t.status !== ExecutionStatus.Paused && ctx.outbox.pending(t.id) <= OUTBOX_HIGH_WATER) return true;
  let backedUp = false;
  let drained: Promise<void> | null = null;
  const ac = new AbortController();
  try {
    for (;;) {
      if (t.finished || ctx.closed) return false;
      if (t.status !== ExecutionStatus.Paused) {
        const pending = ctx.outbox.pending(t.id);
        backedUp = pending > (backedUp ? OUTBOX_LOW_WATER : OUTBOX_HIGH_WATER);
        if (!backedUp) return true;
        drained ??= ctx.outbox.drained(t.id, OUTBOX_LOW_WATER, ac.signal).then(() => { drained = null; });
      }
      let timer: NodeJS.Timeout | undefined;
      const recheck = new Promise<void>((r) => { timer = setTimeout(r, STATUS_RECHECK_MS); });
      if (drained && t.status !== ExecutionStatus.Paused) {
        await Promise.race([drained, recheck]);
        // Woken, yet still over (more was queued meanwhile, or the outbox closed): no new wait before the tick.
        if (drained === null && ctx.outbox.pending(t.id) > OUTBOX_LOW_WATER) await recheck;
      } else {
        await recheck;
      }
      clearTimeout(timer);
    }
  } finally {
    ac.abort(); // drops a waiter left in the outbox
  }
}
