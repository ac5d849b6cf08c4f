/**
 * Bounded task intake: a TaskRequest holds a slot from the moment it is read until its subtasks
 * are placed and dispatched (or it is refused). Past the bound the scheduler answers 503 at
 * once instead of queueing more work in front of keepalives, registrations and status reports,
 * which have no bound: overload is refused, never spread into wrong liveness decisions.
 */
export class IntakeGate {
  private inFlight = 0;

  constructor(readonly max: number) {}

  /** Takes a slot; false when all are taken (the caller answers 503). */
  tryEnter(): boolean {
    if (this.inFlight >= this.max) return false;
    this.inFlight++;
    return true;
  }

  leave(): void {
    if (this.inFlight > 0) this.inFlight--;
  }

  get size(): number {
    return this.inFlight;
  }
}

/** Seconds a refused initiator is told to wait (Retry-After). */
export const INTAKE_RETRY_AFTER_SEC = 1;

/** Table 18 Message (≤ 128 bytes) for a refused TaskRequest. */
export function busyMessage(max: number): string {
  return `scheduler busy: ${max} task requests in flight; retry later`;
}
