/**
 * Active (running, paused, queued) subtasks per device, kept in memory as subtasks are written
 * (not a COUNT per placement). They live outside SQLite, so a batch that rolls back must put them
 * back too: each batch notes only its own changes (copying every device's count per batch cost
 * O(devices) per status report: half the throughput at 10,000 executors).
 */
import type Database from 'better-sqlite3';
import { ACTIVE_STATUSES } from './store-types.ts';

export class ActiveCounts {
  readonly byDevice = new Map<string, number>();
  /** The changes made in the batch under way, to undo if it rolls back. */
  private journal: Array<[string, number]> | null = null;

  /** Counts again from the subtasks table (at start, and after a group commit failed). */
  reload(db: Database.Database): void {
    const rows = db.prepare(`SELECT device_id, COUNT(*) AS n FROM subtasks WHERE status IN (${ACTIVE_STATUSES.map(() => '?').join(',')}) GROUP BY device_id`)
      .all(...ACTIVE_STATUSES) as Array<{ device_id: string; n: number }>;
    this.byDevice.clear();
    for (const r of rows) this.byDevice.set(r.device_id, r.n);
  }

  count(deviceId: string, delta: number): void {
    this.journal?.push([deviceId, delta]);
    this.bump(deviceId, delta);
  }

  get(deviceId: string): number {
    return this.byDevice.get(deviceId) ?? 0;
  }

  /** Runs `fn` as a batch: when it throws, its changes are undone (and an enclosing batch's undo includes them). */
  batch<T>(fn: () => T): T {
    const outer = this.journal;
    const mine: Array<[string, number]> = [];
    this.journal = mine;
    try {
      return fn();
    } catch (err) {
      for (let i = mine.length - 1; i >= 0; i--) this.bump(mine[i]![0], -mine[i]![1]);
      throw err;
    } finally {
      this.journal = outer;
      if (outer) outer.push(...mine);
    }
  }

  private bump(deviceId: string, delta: number): void {
    const n = (this.byDevice.get(deviceId) ?? 0) + delta;
    if (n > 0) this.byDevice.set(deviceId, n); else this.byDevice.delete(deviceId);
  }
}
