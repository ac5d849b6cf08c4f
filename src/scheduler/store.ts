/**
 * The scheduler's durable state (SB9): devices, tasks (table A.1), subtasks (table A.2), status
 * history and every result, in SQLite (WAL). Everything the scheduler knows survives a restart.
 *
 * Statements are prepared once (cached by their SQL) and a row and its status event are written
 * in one transaction; `batch()` groups a burst (a status report listing many subtasks), and
 * batches are committed a group per turn of the event loop (group-commit.ts). Active
 * subtasks per device are counted in memory as subtasks are written, not with a COUNT per task.
 */
import type Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import { openDatabase } from '../sqlite.ts';
import { Checkpointer } from '../sqlite-checkpointer.ts';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { AlgResource, AvailableResource, CustomInfo, TaskBasicInfo, TaskDispatchInfo, TaskResultBody, TotalResource } from '../protocol/index.ts';
import { ACTIVE_STATUSES, type DeviceInput, type DeviceRow, type SchedulerStateStore, type StoredResult, type SubtaskInput, type SubtaskRow, type SubtaskStatusUpdate, type TaskRow } from './store-types.ts';
import { SCHEMA } from './store-schema.ts';
import { ResultRows } from './store-results.ts';
import { GroupCommit } from './group-commit.ts';
import { ActiveCounts } from './active-counts.ts';
import { RowCache } from './row-cache.ts';

export * from './store-types.ts';

const isActive = (status: number) => ACTIVE_STATUSES.includes(status);

export class SchedulerStore implements SchedulerStateStore {
  readonly db: Database.Database;
  private readonly statements = new Map<string, Statement>();
  /** Task and subtask rows as last read (row-cache.ts): every write here drops what it changes. */
  private readonly rows = new RowCache();
  /** Writes are committed a group per turn of the event loop. */
  private readonly group: GroupCommit;
  /** Runs a function in a transaction (a savepoint inside the group): made once, not per batch. */
  private readonly inTransaction: (fn: () => unknown) => unknown;
  /** Active (running, paused, queued) subtasks per device, kept as subtasks are written. */
  private readonly active = new ActiveCounts();
  private readonly resultRows = new ResultRows((sql) => this.stmt(sql));
  private readonly checkpointer: Checkpointer; // WAL checkpoints off the event loop

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.db = openDatabase(path.join(dataDir, 'scheduler.db'));
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
    // A group that failed to commit is gone from the rows: what is kept beside them is read again.
    this.group = new GroupCommit(this.db, () => { this.rows.clear(); this.active.reload(this.db); });
    this.inTransaction = this.db.transaction((fn: () => unknown) => fn());
    // Added with initiator credentials (issue 10): who submitted a task; NULL = a node.
    const cols = this.db.prepare('PRAGMA table_info(tasks)').all() as Array<{ name: string }>;
    if (!cols.some((c) => c.name === 'owner')) this.db.exec('ALTER TABLE tasks ADD COLUMN owner TEXT');
    this.active.reload(this.db);
    this.checkpointer = new Checkpointer(this.db, this.db.name);
  }

  /** The statement for `sql`, prepared on first use and kept. */
  private stmt(sql: string): Statement {
    let st = this.statements.get(sql);
    if (!st) { st = this.db.prepare(sql); this.statements.set(sql, st); }
    return st;
  }

  /**
   * Runs `fn`'s writes as one unit inside the group commit under way (group-commit.ts), in a
   * savepoint: when it throws, only its own writes are undone.
   */
  batch<T>(fn: () => T): T {
    this.group.open();
    try {
      return this.active.batch(() => this.inTransaction(fn) as T);
    } catch (err) {
      this.rows.clear(); // rows read inside it may be ones it wrote
      throw err;
    }
  }

  /** Resolves once every write made so far is committed. */
  durable(): Promise<void> {
    return this.group.durable();
  }

  close(): void {
    this.group.commit();
    this.checkpointer.stop();
    this.db.close();
  }

  // devices ---------------------------------------------------------------------------
  upsertDevice(d: DeviceInput, now: number = Date.now()): void {
    this.stmt(`INSERT INTO devices (device_id, device_type, product_type, device_name, command_url, longitude, latitude, online, registered_at, last_seen)
      VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?) ON CONFLICT(device_id) DO UPDATE SET device_type = excluded.device_type,
      product_type = excluded.product_type, device_name = excluded.device_name, command_url = excluded.command_url,
      longitude = excluded.longitude, latitude = excluded.latitude, online = 1, registered_at = excluded.registered_at,
      last_seen = excluded.last_seen, alg_checked_at = 0`)
      .run(d.deviceId, d.deviceType, d.productType, d.deviceName ?? null, d.commandUrl ?? null, d.longitude ?? null, d.latitude ?? null, now, now);
  }

  device(id: string): DeviceRow | undefined {
    return this.stmt('SELECT * FROM devices WHERE device_id = ?').get(id) as DeviceRow | undefined;
  }

  devices(): DeviceRow[] {
    return this.stmt('SELECT * FROM devices ORDER BY device_id').all() as DeviceRow[];
  }

  /** `at`: when the sign of life arrived (a keepalive is stamped on arrival, not when written). */
  touchDevice(id: string, at: number = Date.now()): boolean {
    return this.stmt('UPDATE devices SET last_seen = MAX(last_seen, ?), online = 1 WHERE device_id = ?').run(at, id).changes > 0;
  }

  setOnline(id: string, online: boolean): void {
    this.stmt('UPDATE devices SET online = ? WHERE device_id = ?').run(online ? 1 : 0, id);
  }

  /** SM1: a disabled executor is kept but not chosen. */
  setEnabled(id: string, enabled: boolean): boolean {
    return this.stmt('UPDATE devices SET enabled = ? WHERE device_id = ?').run(enabled ? 1 : 0, id).changes > 0;
  }

  /** SM1: forgets an executor (its subtasks' history keeps its DeviceID). */
  deleteDevice(id: string): boolean {
    return this.stmt('DELETE FROM devices WHERE device_id = ?').run(id).changes > 0;
  }

  /** S4: deletes a task with its subtasks, status history and results, in one transaction. */
  deleteTask(taskId: string): boolean {
    const gone = this.batch(() => {
      for (const s of this.subtasks(taskId)) if (ACTIVE_STATUSES.includes(s.status)) this.active.count(s.device_id, -1);
      this.stmt('DELETE FROM results WHERE task_id = ?').run(taskId);
      this.stmt('DELETE FROM status_events WHERE task_id = ?').run(taskId);
      this.stmt('DELETE FROM subtasks WHERE task_id = ?').run(taskId);
      return this.stmt('DELETE FROM tasks WHERE task_id = ?').run(taskId).changes > 0;
    });
    this.rows.clear(); // its rows were read on the way
    return gone;
  }

  setTotalResource(r: TotalResource): boolean {
    return this.stmt('UPDATE devices SET total_resource = ? WHERE device_id = ?').run(JSON.stringify(r), r.DeviceID).changes > 0;
  }

  setAvailableResource(r: AvailableResource): boolean {
    return this.stmt('UPDATE devices SET available_resource = ? WHERE device_id = ?').run(JSON.stringify(r), r.DeviceID).changes > 0;
  }

  setAlgResource(id: string, r: AlgResource, at: number = Date.now()): void {
    this.stmt('UPDATE devices SET alg_resource = ?, alg_checked_at = ? WHERE device_id = ?').run(JSON.stringify(r), at, id);
  }

  // tasks -----------------------------------------------------------------------------
  /** `owner`: the initiator that submitted it (null for a node). */
  insertTask(taskId: string, basic: TaskBasicInfo, custom: CustomInfo, status: number, owner: string | null = null): void {
    const now = Date.now();
    const row: TaskRow = { task_id: taskId, basic_info: JSON.stringify(basic), custom_info: JSON.stringify(custom), status, exception_code: null, exception_desc: null, created_at: now, updated_at: now, owner };
    this.batch(() => {
      this.stmt('INSERT INTO tasks (task_id, basic_info, custom_info, status, created_at, updated_at, owner) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(taskId, row.basic_info, row.custom_info, status, now, now, owner);
      this.event(taskId, null, null, status, null);
    });
    this.rows.newTask(row);
  }

  task(id: string): TaskRow | undefined {
    return this.rows.task(id, () => this.stmt('SELECT * FROM tasks WHERE task_id = ?').get(id) as TaskRow | undefined);
  }

  /** The newest tasks first (an initiator's own when `owner` is given). */
  recentTasks(limit: number, owner?: string): TaskRow[] {
    return (owner === undefined
      ? this.stmt('SELECT * FROM tasks ORDER BY created_at DESC, rowid DESC LIMIT ?').all(limit)
      : this.stmt('SELECT * FROM tasks WHERE owner = ? ORDER BY created_at DESC, rowid DESC LIMIT ?').all(owner, limit)) as TaskRow[];
  }

  tasksByStatus(statuses: readonly number[]): TaskRow[] {
    return this.stmt(`SELECT * FROM tasks WHERE status IN (${statuses.map(() => '?').join(',')})`).all(...statuses) as TaskRow[];
  }

  /** Number of tasks per status (for /metrics). */
  taskCountsByStatus(): Map<number, number> {
    const rows = this.stmt('SELECT status, COUNT(*) AS n FROM tasks GROUP BY status').all() as Array<{ status: number; n: number }>;
    return new Map(rows.map((r) => [r.status, r.n]));
  }

  setTaskStatus(id: string, status: number, exceptionCode: number | null = null, exceptionDesc: string | null = null): boolean {
    const cur = this.task(id);
    if (!cur || (cur.status === status && cur.exception_code === exceptionCode && cur.exception_desc === exceptionDesc)) return false;
    const now = Date.now();
    this.batch(() => {
      this.stmt('UPDATE tasks SET status = ?, exception_code = ?, exception_desc = ?, updated_at = ? WHERE task_id = ?')
        .run(status, exceptionCode, exceptionDesc, now, id);
      this.event(id, null, null, status, exceptionCode);
    });
    this.rows.setTask({ ...cur, status, exception_code: exceptionCode, exception_desc: exceptionDesc, updated_at: now });
    return true;
  }

  // subtasks --------------------------------------------------------------------------
  insertSubtask(s: SubtaskInput): void {
    const now = Date.now();
    const prev = this.subtask(s.subtaskId);
    // The row as the upsert leaves it (a replaced subtask keeps its task and its creation time).
    const row: SubtaskRow = { subtask_id: s.subtaskId, task_id: prev?.task_id ?? s.taskId, device_id: s.deviceId, dispatch_info: JSON.stringify(s.dispatch), status: s.status,
      progress: 0, exception_code: null, exception_desc: null, attempts: s.attempts ?? 1, created_at: prev?.created_at ?? now, updated_at: now };
    this.batch(() => {
      this.stmt(`INSERT INTO subtasks (subtask_id, task_id, device_id, dispatch_info, status, attempts, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(subtask_id) DO UPDATE SET device_id = excluded.device_id, dispatch_info = excluded.dispatch_info,
      status = excluded.status, attempts = excluded.attempts, progress = 0, exception_code = NULL, exception_desc = NULL, updated_at = excluded.updated_at`)
        .run(s.subtaskId, s.taskId, s.deviceId, row.dispatch_info, s.status, row.attempts, now, now);
      this.event(s.taskId, s.subtaskId, s.deviceId, s.status, null);
    });
    this.rows.setSubtask(row);
    if (prev && isActive(prev.status)) this.active.count(prev.device_id, -1);
    if (isActive(s.status)) this.active.count(s.deviceId, 1);
  }

  /** Replaces a subtask's dispatch info in place (its destinations changed); status is kept. */
  setSubtaskDispatch(id: string, dispatch: TaskDispatchInfo): void {
    const cur = this.subtask(id);
    const info = JSON.stringify(dispatch);
    const now = Date.now();
    this.stmt('UPDATE subtasks SET dispatch_info = ?, updated_at = ? WHERE subtask_id = ?').run(info, now, id);
    if (cur) this.rows.setSubtask({ ...cur, dispatch_info: info, updated_at: now });
  }

  subtask(id: string): SubtaskRow | undefined {
    return this.rows.subtask(id, () => this.stmt('SELECT * FROM subtasks WHERE subtask_id = ?').get(id) as SubtaskRow | undefined);
  }

  subtasks(taskId: string): SubtaskRow[] {
    return this.rows.subtasks(taskId, () => this.stmt('SELECT * FROM subtasks WHERE task_id = ? ORDER BY subtask_id').all(taskId) as SubtaskRow[]);
  }

  subtasksOnDevice(deviceId: string, statuses: readonly number[]): SubtaskRow[] {
    return this.stmt(`SELECT * FROM subtasks WHERE device_id = ? AND status IN (${statuses.map(() => '?').join(',')})`).all(deviceId, ...statuses) as SubtaskRow[];
  }

  /** Active subtasks on a device (from memory). */
  activeCount(deviceId: string): number {
    return this.active.get(deviceId);
  }

  /** Active subtasks per device (from memory; a live view, not a copy). */
  activeCountByDevice(): ReadonlyMap<string, number> {
    return this.active.byDevice;
  }

  /** Records a status report for a subtask; false when nothing changed. */
  setSubtaskStatus(id: string, u: SubtaskStatusUpdate): boolean {
    const cur = this.subtask(id);
    if (!cur) return false;
    const progress = u.progress ?? cur.progress;
    const changed = cur.status !== u.status;
    const now = Date.now();
    this.batch(() => {
      this.stmt('UPDATE subtasks SET status = ?, progress = ?, exception_code = ?, exception_desc = ?, updated_at = ? WHERE subtask_id = ?')
        .run(u.status, progress, u.exceptionCode ?? null, u.exceptionDesc ?? null, now, id);
      if (changed) this.event(cur.task_id, id, cur.device_id, u.status, u.exceptionCode ?? null);
    });
    this.rows.setSubtask({ ...cur, status: u.status, progress, exception_code: u.exceptionCode ?? null, exception_desc: u.exceptionDesc ?? null, updated_at: now });
    const was = isActive(cur.status);
    if (was !== isActive(u.status)) this.active.count(cur.device_id, was ? -1 : 1);
    return changed;
  }

  // history and results ---------------------------------------------------------------
  private event(taskId: string, subtaskId: string | null, deviceId: string | null, status: number, code: number | null): void {
    this.stmt('INSERT INTO status_events (task_id, subtask_id, device_id, status, exception_code, at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(taskId, subtaskId, deviceId, status, code, Date.now());
  }

  /** Status history of a task (its own rows, subtask rows excluded when `taskOnly`). */
  statusHistory(taskId: string, taskOnly = true): Array<{ status: number; subtask_id: string | null; at: number }> {
    return this.stmt(`SELECT status, subtask_id, at FROM status_events WHERE task_id = ? ${taskOnly ? 'AND subtask_id IS NULL' : ''} ORDER BY seq`).all(taskId) as Array<{ status: number; subtask_id: string | null; at: number }>;
  }

  /** Stores a result once per dedup key; returns false for a duplicate. */
  insertResult(taskId: string, body: TaskResultBody, dedupKey: string | null): boolean {
    return this.resultRows.insert(taskId, body, dedupKey);
  }

  /** A page of a task's results (store-results.ts says how it is bounded). */
  results(taskId: string, after: number, limit: number, maxBytes = Number.POSITIVE_INFINITY): StoredResult[] & { full?: boolean } {
    return this.resultRows.page(taskId, after, limit, maxBytes);
  }

  resultCount(taskId: string): number {
    return this.resultRows.count(taskId);
  }

  /** Where a moved subtask resumes (SB12), in source milliseconds; null when nothing was stored. */
  resumeAfterMs(subtaskId: string, frameMs: number): number | null {
    return this.resultRows.resumeAfterMs(subtaskId, frameMs);
  }
}
