/**
 * A registration retried until it succeeds or its owner stops, and the periodic jobs after it: an executor with its scheduler
 * (runtime/session.ts), a lower scheduler with the one above it (scheduler/cascade/upstream.ts).
 * Capped exponential backoff from 250 ms to 10 s, so a peer that is down is not hammered and one
 * that comes back is found within seconds.
 */
export async function retryUntilDone(attempt: () => Promise<void>, o: { stopped: () => boolean; failed: (err: Error, retryInMs: number) => void }): Promise<void> {
  let delay = 250;
  while (!o.stopped()) {
    try {
      await attempt();
      return;
    } catch (err) {
      o.failed(err as Error, delay);
      await new Promise((r) => setTimeout(r, delay).unref());
      delay = Math.min(delay * 2, 10_000);
    }
  }
}

/** A job run every `ms()` (read again each time), one run at a time, until stopped. */
export interface Repeater {
  stop(): void;
}

/**
 * Runs `fn` after `ms()` and again `ms()` after each run ends; a failure goes to `failed` and the
 * next run still comes. Only the pending timer is held, so a long-lived session does not keep a
 * handle for every run it ever made.
 */
export function repeat(ms: () => number, fn: () => Promise<void>, failed: (err: Error) => void): Repeater {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => { timer = setTimeout(() => void tick(), ms()); timer.unref(); };
  // tick catches fn's failure itself and the rest cannot throw, so the timer may drop its promise.
  const tick = async () => {
    if (stopped) return;
    try { await fn(); } catch (err) { failed(err as Error); }
    if (!stopped) arm();
  };
  arm();
  return { stop: () => { stopped = true; clearTimeout(timer); } };
}
