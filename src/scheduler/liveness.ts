/**
 * Liveness (EM1, S7): when each online device was last heard from, kept in memory and stamped
 * with the time a keepalive *arrived* (the route stamps it before any work is queued behind it),
 * so a busy scheduler does not blame devices for its own backlog. The store keeps a copy for
 * DeviceList and restarts; judging reads only this map, never the devices table.
 */
export type Clock = () => number;

export class Liveness {
  private readonly lastSeen = new Map<string, number>();
  private lastCheckAt = 0;

  constructor(private readonly now: Clock, private readonly limitMs: () => number) {}

  /** A sign of life from `deviceId` that arrived at `at` (never moves the stamp backwards). */
  seen(deviceId: string, at: number = this.now()): void {
    const prev = this.lastSeen.get(deviceId);
    if (prev === undefined || at > prev) this.lastSeen.set(deviceId, at);
  }

  /** The device is offline or gone: nothing more to judge. */
  forget(deviceId: string): void {
    this.lastSeen.delete(deviceId);
  }

  tracks(deviceId: string): boolean {
    return this.lastSeen.has(deviceId);
  }

  /** Devices silent for longer than the limit, with how long; they are forgotten. */
  expired(): Array<{ deviceId: string; silentMs: number }> {
    const now = this.now();
    const limit = this.limitMs();
    const out: Array<{ deviceId: string; silentMs: number }> = [];
    for (const [id, at] of this.lastSeen) {
      if (now - at > limit) out.push({ deviceId: id, silentMs: now - at });
    }
    for (const e of out) this.lastSeen.delete(e.deviceId);
    return out;
  }

  /** The periodic check starts now (after a start or restart: no stall is counted before it). */
  startChecks(at: number = this.now()): void {
    this.lastCheckAt = at;
  }

  /**
   * The periodic check, run every `everyMs`: the devices to mark offline, or null when this
   * check came more than one limit late. After the scheduler itself stalled (a busy event loop,
   * a paused VM or process), timers run before the keepalives that queued up meanwhile are
   * read: nobody is judged until they have been.
   */
  check(everyMs: number, stallMs: number): Array<{ deviceId: string; silentMs: number }> | { stalledMs: number } {
    const now = this.now();
    const late = now - this.lastCheckAt - everyMs;
    this.lastCheckAt = now;
    if (late > stallMs) return { stalledMs: late };
    return this.expired();
  }
}
