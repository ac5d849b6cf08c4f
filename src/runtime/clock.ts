/**
 * The executor's corrected clock (B4): the offset to the scheduler's `GET /System/Time` is
 * measured periodically, half the round trip is credited, and every Ts/CreateTime uses it.
 */
import { formatRetinaDateTime } from '../protocol/index.ts';

export class CorrectedClock {
  private offsetMs = 0;
  private lastRttMs: number | null = null;

  /** Milliseconds since the epoch, corrected to the reference. */
  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** The standard's datetime of `now()`. */
  nowDateTime(): string {
    return formatRetinaDateTime(this.now());
  }

  /** Records one measurement: reference time `refMs` seen between local `sentAt` and `receivedAt`. */
  observe(refMs: number, sentAt: number, receivedAt: number): void {
    const rtt = Math.max(0, receivedAt - sentAt);
    // A sample with a long round trip tells little; keep the better one.
    if (this.lastRttMs !== null && rtt > this.lastRttMs * 4 + 50) return;
    this.offsetMs = Math.round(refMs + rtt / 2 - receivedAt);
    this.lastRttMs = rtt;
  }

  get offset(): number {
    return this.offsetMs;
  }
}
