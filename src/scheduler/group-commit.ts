/**
 * Group commit for the scheduler's SQLite store: the first write of a turn of the event loop
 * opens a transaction and the turn's end commits it, so a burst of requests (task intake,
 * placements, status reports) costs one commit, not one each. Nothing is acknowledged before its
 * commit: replies and commands wait for `durable()`. WAL with synchronous=NORMAL (sqlite.ts), so
 * a commit survives the process being killed (kill -9), as every acknowledged write must.
 */
import type Database from 'better-sqlite3';

interface Waiter { resolve: () => void; reject: (err: Error) => void }

export class GroupCommit {
  /** Who waits for the group under way; null when none is open. */
  private waiters: Waiter[] | null = null;

  /** `rolledBack`: a failed commit undid the group; state kept beside the rows must be read again. */
  constructor(private readonly db: Database.Database, private readonly rolledBack: () => void = () => {}) {}

  /** Opens a group unless one is open (or another transaction is: a restore's import commits itself). */
  open(): void {
    if (this.waiters || this.db.inTransaction || !this.db.open) return;
    this.db.exec('BEGIN');
    this.waiters = [];
    setImmediate(() => this.commit());
  }

  /** Commits the group; a failed commit (a full disk) rolls it back, and its waiters learn it. */
  commit(): void {
    const w = this.waiters;
    if (!w) return;
    this.waiters = null;
    try {
      this.db.exec('COMMIT');
    } catch (err) {
      try { if (this.db.inTransaction) this.db.exec('ROLLBACK'); } catch { /* SQLite rolled it back already */ }
      // Runs in a timer callback: a failure to reread must not end the process; the waiters still hear why.
      try { this.rolledBack(); } catch { /* the next restart rebuilds memory from the rows */ }
      for (const x of w) x.reject(err as Error);
      return;
    }
    for (const x of w) x.resolve();
  }

  /** Resolves once every write made so far is committed (at once when no group is open). */
  durable(): Promise<void> {
    const w = this.waiters;
    return w ? new Promise((resolve, reject) => w.push({ resolve, reject })) : Promise.resolve();
  }
}
