/**
 * SR3 algorithm lists, refreshed off the request path: on registration and TotalResource
 * reports (a device says something changed) and on a slow timer for lists gone stale; never
 * inside a TaskRequest. One `algorithm_res_query` is in flight per device at a time: concurrent
 * asks for the same device share one promise, so a burst of requests cannot become a storm of
 * queries, and a device that hangs holds only its own query.
 */
import type { Logger } from '../log.ts';

export interface AlgorithmRefreshDeps {
  /** Sends one algorithm_res_query to the device and stores the answer. */
  query(deviceId: string): Promise<void>;
  /** Online devices whose list is older than `olderThanMs`. */
  stale(olderThanMs: number): string[];
  log: Logger;
  /** How often the sweep runs and how old a list may get (default 60 s). */
  periodMs?: number;
  /** Queries a sweep keeps in flight at once (default 8): a sweep is background work. */
  sweepConcurrency?: number;
}

export class AlgorithmRefresh {
  private readonly inFlight = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private sweeping = false;

  constructor(private readonly d: AlgorithmRefreshDeps) {}

  /** Refreshes one device's list; joins the query already in flight for it, if any. */
  refresh(deviceId: string): Promise<void> {
    const running = this.inFlight.get(deviceId);
    if (running) return running;
    const p = this.d.query(deviceId).finally(() => this.inFlight.delete(deviceId));
    this.inFlight.set(deviceId, p);
    return p;
  }

  /** Same, in the background: a failure is logged, not thrown. */
  kick(deviceId: string): void {
    this.refresh(deviceId).catch((err: Error) => this.d.log.warn({ device: deviceId, err: err.message }, 'algorithm query failed'));
  }

  isInFlight(deviceId: string): boolean {
    return this.inFlight.has(deviceId);
  }

  /** Resolves when the given devices' queries in flight settle, or after `maxMs`, whichever is first. */
  async settle(deviceIds: string[], maxMs: number): Promise<void> {
    const pending = deviceIds.map((id) => this.inFlight.get(id)).filter((p): p is Promise<void> => p !== undefined);
    if (!pending.length) return;
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((r) => { t = setTimeout(r, maxMs); t.unref(); });
    await Promise.race([Promise.allSettled(pending), timeout]);
    clearTimeout(t);
  }

  start(): void {
    const period = this.d.periodMs ?? 60_000;
    this.timer = setInterval(() => void this.sweep(), period);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Refreshes stale lists a few at a time; a sweep still running skips the next tick. */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const queue = this.d.stale(this.d.periodMs ?? 60_000);
      const worker = async () => {
        for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
          await this.refresh(id).catch((err: Error) => this.d.log.warn({ device: id, err: err.message }, 'algorithm query failed'));
        }
      };
      await Promise.all(Array.from({ length: this.d.sweepConcurrency ?? 8 }, worker));
    } finally {
      this.sweeping = false;
    }
  }
}
