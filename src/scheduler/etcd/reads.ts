/**
 * The read half of the etcd store: every read of SchedulerStateStore, answered synchronously
 * from the mirror with the SQLite store's semantics (store.ts is the reference): the same order,
 * filters, limits (a negative LIMIT is no limit in SQLite), `full` flag and byte bound. Rows are
 * handed out as copies so a caller cannot change the mirror.
 */
import type { Logger } from '../../log.ts';
import { resumePointMs, type TaskResultBody } from '../../protocol/index.ts';
import type { DeviceRow, StoredResult, SubtaskRow, TaskRow } from '../store-types.ts';
import type { ResultEntry } from './keys.ts';
import { byteOrder, lowerBound, type Mirror } from './mirror.ts';
import type { ResultFiles } from './result-files.ts';

/** SQLite's LIMIT: a negative one means none. */
const cap = (limit: number) => (limit < 0 ? Number.POSITIVE_INFINITY : limit);

export abstract class MirrorReads {
  protected constructor(protected readonly mirror: Mirror, protected readonly files: ResultFiles, protected readonly log: Logger) {}

  device(id: string): DeviceRow | undefined {
    const d = this.mirror.devices.get(id);
    return d && { ...d };
  }

  devices(): DeviceRow[] {
    return this.mirror.deviceIds().map((id) => ({ ...this.mirror.devices.get(id)! }));
  }

  task(id: string): TaskRow | undefined {
    const t = this.mirror.tasks.get(id);
    return t && { ...t.row };
  }

  /** The newest tasks first (an initiator's own when `owner` is given). */
  recentTasks(limit: number, owner?: string): TaskRow[] {
    const out: TaskRow[] = [];
    const n = cap(limit);
    for (const id of this.mirror.recentTaskIds()) {
      if (out.length >= n) break;
      const row = this.mirror.tasks.get(id)!.row;
      if (owner === undefined || row.owner === owner) out.push({ ...row });
    }
    return out;
  }

  /** In insertion order, as SQLite's scan of the table returns them. */
  tasksByStatus(statuses: readonly number[]): TaskRow[] {
    return [...this.mirror.tasks.values()].filter((t) => statuses.includes(t.row.status))
      .sort((a, b) => a.n - b.n).map((t) => ({ ...t.row }));
  }

  /** Number of tasks per status, by status (as GROUP BY gives them). */
  taskCountsByStatus(): Map<number, number> {
    const counts = new Map<number, number>();
    for (const t of this.mirror.tasks.values()) counts.set(t.row.status, (counts.get(t.row.status) ?? 0) + 1);
    return new Map([...counts].sort(([a], [b]) => a - b));
  }

  subtask(id: string): SubtaskRow | undefined {
    const s = this.mirror.subtasks.get(id);
    return s && { ...s.row };
  }

  subtasks(taskId: string): SubtaskRow[] {
    return [...this.mirror.subtasksOfTask.get(taskId) ?? []].sort(byteOrder).map((id) => ({ ...this.mirror.subtasks.get(id)!.row }));
  }

  /** By status, then insertion order: SQLite walks its (device_id, status) index that way. */
  subtasksOnDevice(deviceId: string, statuses: readonly number[]): SubtaskRow[] {
    return [...this.mirror.subtasksOfDevice.get(deviceId) ?? []].map((id) => this.mirror.subtasks.get(id)!)
      .filter((s) => statuses.includes(s.row.status))
      .sort((a, b) => a.row.status - b.row.status || a.n - b.n).map((s) => ({ ...s.row }));
  }

  activeCount(deviceId: string): number {
    return this.mirror.active.get(deviceId) ?? 0;
  }

  /** A live view, as the SQLite store's. */
  activeCountByDevice(): ReadonlyMap<string, number> {
    return this.mirror.active;
  }

  /** Status history of a task (the newest EVENTS_PER_TASK), subtask rows excluded when `taskOnly`. */
  statusHistory(taskId: string, taskOnly = true): Array<{ status: number; subtask_id: string | null; at: number }> {
    return (this.mirror.events.get(taskId) ?? []).filter((e) => !taskOnly || e.subtask_id === null)
      .map((e) => ({ status: e.status, subtask_id: e.subtask_id, at: e.at }));
  }

  /** The body of an indexed result; undefined (logged) when its file is missing or damaged. */
  protected body(r: ResultEntry): TaskResultBody | undefined {
    const text = this.files.get({ taskId: r.task_id, seq: r.seq, writer: r.writer });
    if (text !== undefined) {
      try { return JSON.parse(text) as TaskResultBody; } catch { /* logged below */ }
    }
    this.log.warn({ task: r.task_id, seq: r.seq }, 'result body missing or unreadable; the result is skipped (results directory not shared with the writer?)');
    return undefined;
  }

  /** As the SQLite store's: after `after`, at most `limit` and `maxBytes` (at least one); `full` when a bound stopped the page. */
  results(taskId: string, after: number, limit: number, maxBytes = Number.POSITIVE_INFINITY): StoredResult[] & { full?: boolean } {
    const out: StoredResult[] & { full?: boolean } = [];
    const list = this.mirror.results.get(taskId) ?? [];
    const n = cap(limit);
    let bytes = 0;
    let taken = 0;
    for (let i = lowerBound(list, Math.floor(after) + 1); i < list.length && taken < n; i++) {
      const r = list[i]!;
      if (out.length && bytes + r.bytes > maxBytes) { out.full = true; break; }
      taken++;
      const body = this.body(r);
      if (!body) continue;
      bytes += r.bytes;
      out.push({ seq: r.seq, body });
    }
    if (taken === limit) out.full = true;
    return out;
  }

  resultCount(taskId: string): number {
    return this.mirror.results.get(taskId)?.length ?? 0;
  }

  /** Where a moved subtask resumes (SB12), from the last result stored for it. */
  resumeAfterMs(subtaskId: string, frameMs: number): number | null {
    const last = this.mirror.resultsOfSubtask.get(subtaskId)?.at(-1);
    const body = last && this.body(last);
    return body ? resumePointMs(body, frameMs) : null;
  }
}
