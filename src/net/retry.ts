/**
 * Retrying a registration until it succeeds or its owner stops: an executor with its scheduler
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
