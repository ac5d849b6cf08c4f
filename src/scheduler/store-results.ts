/**
 * The results table of the scheduler's SQLite store: every result stored once per dedup key,
 * read back in pages bounded in count and bytes, and where a moved subtask resumes (SB12).
 */
import type { Statement } from 'better-sqlite3';
import { resumePointMs, type TaskResultBody } from '../protocol/index.ts';
import type { StoredResult } from './store-types.ts';

export class ResultRows {
  /** `stmt`: the store's prepared statement for an SQL text (prepared once). */
  constructor(private readonly stmt: (sql: string) => Statement) {}

  /** Stores a result once per dedup key; returns false for a duplicate. */
  insert(taskId: string, body: TaskResultBody, dedupKey: string | null): boolean {
    const r = this.stmt('INSERT OR IGNORE INTO results (task_id, subtask_id, device_id, ts, dedup_key, body, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(taskId, body.TaskID, body.DeviceID, body.Ts, dedupKey, JSON.stringify(body), Date.now());
    return r.changes > 0;
  }

  /**
   * Results of a task, oldest first, after cursor `after` (a seq): at most `limit`, and no more
   * than `maxBytes` of stored JSON (at least one) — 500 results of 4 MiB must not make one reply.
   * `full` says whether the page stopped at a bound (so there may be more).
   */
  page(taskId: string, after: number, limit: number, maxBytes: number): StoredResult[] & { full?: boolean } {
    const out: StoredResult[] & { full?: boolean } = [];
    let bytes = 0;
    for (const r of this.stmt('SELECT seq, body FROM results WHERE task_id = ? AND seq > ? ORDER BY seq LIMIT ?').iterate(taskId, after, limit) as IterableIterator<{ seq: number; body: string }>) {
      if (out.length && bytes + r.body.length > maxBytes) { out.full = true; break; }
      bytes += r.body.length;
      out.push({ seq: r.seq, body: JSON.parse(r.body) as TaskResultBody });
    }
    if (out.length === limit) out.full = true;
    return out;
  }

  count(taskId: string): number {
    return (this.stmt('SELECT COUNT(*) AS n FROM results WHERE task_id = ?').get(taskId) as { n: number }).n;
  }

  /** From the last result stored for the subtask (protocol/resume-point.ts says how); null when none was. */
  resumeAfterMs(subtaskId: string, frameMs: number): number | null {
    const r = this.stmt('SELECT body FROM results WHERE subtask_id = ? ORDER BY seq DESC LIMIT 1').get(subtaskId) as { body: string } | undefined;
    return r ? resumePointMs(JSON.parse(r.body) as TaskResultBody, frameMs) : null;
  }
}
