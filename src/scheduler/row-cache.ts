/**
 * Task and subtask rows as last read, kept beside the SQLite store: a task's path through the
 * scheduler reads its row and its subtasks many times (intake, placement, each status report,
 * the task's aggregate status), each a statement and a JSON-heavy row. The store is the only
 * writer, and each of its writes puts the row it leaves here once its statement succeeded (a
 * write that fails changes nothing, or throws out of a batch that clears everything), so a
 * subtask's life (placed, dispatched, running, done) reads its task's list once. A delete or a
 * rollback drops everything. Callers get copies: a row they change does not change the cache.
 * Bounded: the oldest entries go first.
 */
import type { SubtaskRow, TaskRow } from './store-types.ts';

// Enough for the tasks in flight at fleet scale; a list may hold up to 256 rows, so lists count too.
const MAX = 4096;

function put<K, V>(m: Map<K, V>, k: K, v: V): V {
  if (m.size >= MAX) m.delete(m.keys().next().value as K);
  m.set(k, v);
  return v;
}

export class RowCache {
  private readonly tasks = new Map<string, TaskRow>();
  private readonly subtaskRows = new Map<string, SubtaskRow>();
  private readonly lists = new Map<string, SubtaskRow[]>();

  task(id: string, read: () => TaskRow | undefined): TaskRow | undefined {
    const hit = this.tasks.get(id) ?? (() => { const r = read(); return r && put(this.tasks, id, r); })();
    return hit && { ...hit };
  }

  subtask(id: string, read: () => SubtaskRow | undefined): SubtaskRow | undefined {
    const hit = this.subtaskRows.get(id) ?? (() => { const r = read(); return r && put(this.subtaskRows, id, r); })();
    return hit && { ...hit };
  }

  subtasks(taskId: string, read: () => SubtaskRow[]): SubtaskRow[] {
    const hit = this.lists.get(taskId) ?? put(this.lists, taskId, read());
    return hit.map((r) => ({ ...r }));
  }

  /** The task's row is now `row` (written by the store; a copy is kept). */
  setTask(row: TaskRow): void {
    put(this.tasks, row.task_id, { ...row });
  }

  /**
   * A subtask's row is now `row`: it replaces the cached row and its entry in its task's list
   * (a subtask new to the list changes its length and order, so the list is read again).
   */
  setSubtask(row: SubtaskRow): void {
    const kept = { ...row };
    put(this.subtaskRows, row.subtask_id, kept);
    const list = this.lists.get(row.task_id);
    const i = list ? list.findIndex((r) => r.subtask_id === row.subtask_id) : -1;
    if (i >= 0) list![i] = kept; else this.lists.delete(row.task_id);
  }

  clear(): void {
    this.tasks.clear();
    this.subtaskRows.clear();
    this.lists.clear();
  }
}
