/**
 * Task and subtask rows as last read, kept beside the SQLite store: a task's path through the
 * scheduler reads its row and its subtasks many times (intake, placement, each status report,
 * the task's aggregate status), each a statement and a JSON-heavy row. The store is the only
 * writer, and each of its writes puts the row it leaves here once its statement succeeded (a
 * write that fails changes nothing, or throws out of a batch that clears everything), so a
 * task's life (its subtasks placed, dispatched, running, done) reads nothing back. A delete or a
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

const SURROGATE = /[\uD800-\uDFFF]/;

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

  /** A task just inserted: its row, and its list of subtasks, empty (no subtask can name a task before it exists). */
  newTask(row: TaskRow): void {
    this.setTask(row);
    put(this.lists, row.task_id, []);
  }

  /**
   * A subtask's row is now `row`: it replaces the cached row and its entry in its task's list,
   * or joins the list where SQLite's ORDER BY subtask_id puts it (BINARY: UTF-8 byte order,
   * which is JavaScript's string order when no surrogate pair is involved; otherwise the list
   * is read again).
   */
  setSubtask(row: SubtaskRow): void {
    const kept = { ...row };
    put(this.subtaskRows, row.subtask_id, kept);
    const list = this.lists.get(row.task_id);
    if (!list) return;
    const i = list.findIndex((r) => r.subtask_id === row.subtask_id);
    if (i >= 0) { list[i] = kept; return; }
    if (SURROGATE.test(row.subtask_id) || list.some((r) => SURROGATE.test(r.subtask_id))) { this.lists.delete(row.task_id); return; }
    let j = list.length;
    while (j > 0 && list[j - 1]!.subtask_id > row.subtask_id) j--;
    list.splice(j, 0, kept);
  }

  clear(): void {
    this.tasks.clear();
    this.subtaskRows.clear();
    this.lists.clear();
  }
}
