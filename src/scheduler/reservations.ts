/**
 * What placement has promised an executor and its reports do not show yet (S3, SR1): a subtask
 * that needs 2 GB (Constraints.MemoryBytes) or 25 decode units (inputs × TaskFrameRate) is
 * charged to the executor the moment it is chosen — before its task_dispatch is even sent — so
 * the next placement, maybe a millisecond later and concurrent, does not see the same free
 * memory. The charge ends when the subtask ends or leaves the executor, or once the executor
 * reports AvailableResource while the subtask runs (its use is then in the report and would
 * otherwise be counted twice). Held in memory: after a restart the executors' next reports
 * carry what runs.
 */
import { ExecutionStatus } from '../protocol/index.ts';

/** What a subtask asks of an executor's reported capacity. */
export interface Demand {
  memoryBytes: number;
  decodeUnits: number;
}

/** Where a subtask is and in which state (the store's word), or undefined when it is gone. */
export type SubtaskLookup = (subtaskId: string) => { device_id: string; status: number } | undefined;

const ENDED: ReadonlySet<number> = new Set([ExecutionStatus.Done, ExecutionStatus.Error]);
const ZERO: Demand = Object.freeze({ memoryBytes: 0, decodeUnits: 0 });
/** A charge is checked against the store at most this often (placement reads charges per candidate). */
const RECHECK_MS = 1000;

interface Charge extends Demand {
  checkedAt: number;
}

export class Reservations {
  private readonly byDevice = new Map<string, Map<string, Charge>>();
  private readonly deviceOf = new Map<string, string>();

  constructor(private readonly subtask: SubtaskLookup, private readonly now: () => number = Date.now) {}

  /** Charges `demand` for `subtaskId` to `deviceId` (a subtask holds one charge: a new one replaces it). */
  reserve(deviceId: string, subtaskId: string, demand: Partial<Demand>): void {
    const c = { memoryBytes: demand.memoryBytes ?? 0, decodeUnits: demand.decodeUnits ?? 0, checkedAt: this.now() };
    if (!c.memoryBytes && !c.decodeUnits) return;
    const before = this.deviceOf.get(subtaskId);
    if (before !== undefined) this.release(before, subtaskId);
    let m = this.byDevice.get(deviceId);
    if (!m) { m = new Map(); this.byDevice.set(deviceId, m); }
    m.set(subtaskId, c);
    this.deviceOf.set(subtaskId, deviceId);
  }

  /** The dispatch failed or the subtask went elsewhere: the charge ends now. */
  release(deviceId: string, subtaskId: string): void {
    const m = this.byDevice.get(deviceId);
    if (!m?.delete(subtaskId)) return;
    this.deviceOf.delete(subtaskId);
    if (!m.size) this.byDevice.delete(deviceId);
  }

  /** The subtask ended (or was stopped) wherever it ran: its charge ends. */
  ended(subtaskId: string): void {
    const dev = this.deviceOf.get(subtaskId);
    if (dev !== undefined) this.release(dev, subtaskId);
  }

  /** An AvailableResource report from `deviceId`: subtasks running there are in it now. */
  reported(deviceId: string): void {
    const m = this.byDevice.get(deviceId);
    if (!m) return;
    for (const id of [...m.keys()]) {
      const s = this.subtask(id);
      if (!s || s.device_id !== deviceId || s.status !== ExecutionStatus.Queued) this.release(deviceId, id);
    }
  }

  /** What is charged to `deviceId` now; charges of subtasks that ended or moved are dropped on the way. */
  held(deviceId: string): Demand {
    const m = this.byDevice.get(deviceId);
    if (!m) return ZERO;
    const sum = { memoryBytes: 0, decodeUnits: 0 };
    const now = this.now();
    for (const [id, c] of m) {
      if (now - c.checkedAt >= RECHECK_MS) {
        c.checkedAt = now;
        const s = this.subtask(id);
        // Not in the store yet: the charge was made a moment before the subtask's row (kept).
        if (s && (s.device_id !== deviceId || ENDED.has(s.status))) { this.release(deviceId, id); continue; }
      }
      sum.memoryBytes += c.memoryBytes;
      sum.decodeUnits += c.decodeUnits;
    }
    return sum;
  }

  /** Executors with a charge (tests, metrics). */
  devices(): string[] {
    return [...this.byDevice.keys()];
  }
}
