/**
 * B.2: the tasks this scheduler runs for its upper scheduler. A subtask the upper one dispatched
 * here becomes a local task under the same TaskID, so controls and status queries from above
 * name it as they are; this table marks it as "from above" and holds how far its results have
 * been relayed upwards (the cursor survives a restart: nothing is sent twice or lost).
 */
import type Database from 'better-sqlite3';

const SCHEMA = `CREATE TABLE IF NOT EXISTS cascade_from_above (
  task_id TEXT PRIMARY KEY,
  result_cursor INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
)`;

export class CascadeLinks {
  private readonly ids = new Set<string>();

  constructor(private readonly db: Database.Database) {
    db.exec(SCHEMA);
    for (const r of db.prepare('SELECT task_id FROM cascade_from_above').all() as Array<{ task_id: string }>) this.ids.add(r.task_id);
  }

  /** Whether `taskId` was dispatched here by the upper scheduler. */
  has(taskId: string): boolean {
    return this.ids.has(taskId);
  }

  all(): string[] {
    return [...this.ids];
  }

  link(taskId: string, now: number): void {
    this.db.prepare('INSERT INTO cascade_from_above (task_id, result_cursor, created_at) VALUES (?, 0, ?) ON CONFLICT(task_id) DO UPDATE SET result_cursor = 0, created_at = excluded.created_at').run(taskId, now);
    this.ids.add(taskId);
  }

  unlink(taskId: string): void {
    this.db.prepare('DELETE FROM cascade_from_above WHERE task_id = ?').run(taskId);
    this.ids.delete(taskId);
  }

  cursor(taskId: string): number {
    return (this.db.prepare('SELECT result_cursor AS c FROM cascade_from_above WHERE task_id = ?').get(taskId) as { c: number } | undefined)?.c ?? 0;
  }

  setCursor(taskId: string, seq: number): void {
    this.db.prepare('UPDATE cascade_from_above SET result_cursor = ? WHERE task_id = ?').run(seq, taskId);
  }
}
