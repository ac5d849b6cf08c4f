/**
 * The write half of the etcd store: each write of SchedulerStateStore changes the mirror at once
 * (reads see it, as with SQLite) and queues its etcd operations for the committer. A call is one
 * unit, a `batch()` one unit for all its calls, so it lands in one txn where it fits. A write
 * that throws (a duplicate TaskID, a subtask of no task) leaves nothing behind: the mirror is put
 * back from a journal and nothing is queued, as a rolled-back SQLite transaction.
 *
 * The rows written are those the SQLite store would hold (store.ts is the reference), including
 * its quirks: a subtask upsert keeps its task_id, a duplicate result still uses up a seq.
 */
import type { AlgResource, AvailableResource, CustomInfo, TaskBasicInfo, TaskDispatchInfo, TaskResultBody, TotalResource } from '../../protocol/index.ts';
import type { Logger } from '../../log.ts';
import type { DeviceInput, DeviceRow, SubtaskInput, SubtaskRow, SubtaskStatusUpdate } from '../store-types.ts';
import type { Committer, Guard } from './committer.ts';
import { EVENTS_PER_TASK, dedupKey, deviceKey, eventKey, resultKey, subtaskKey, taskKey, type Counters, type ResultEntry, type Value } from './keys.ts';
import type { Mirror } from './mirror.ts';
import { MirrorReads } from './reads.ts';
import { checkSegment, type ResultFiles } from './result-files.ts';

/** The largest value written (etcd refuses a request over 1.5 MiB; a txn holds many values). */
export const MAX_VALUE_BYTES = 512 * 1024;

/** The writes of one unit while it is being made, and how to undo them. */
interface Tx { journal: Array<[string, Value | undefined]>; ops: Map<string, Buffer | null>; guards: Guard[]; after: Array<() => void>; undo: Array<() => void>; counters: Counters }

export abstract class MirrorWrites extends MirrorReads {
  private tx: Tx | null = null;
  /** A follower replica reads only: a write there is a bug (it would go unfenced), refused loudly. */
  private readOnly = false;

  protected constructor(mirror: Mirror, files: ResultFiles, log: Logger, protected readonly committer: Committer, protected readonly prefix: string, readonly writerId: string) {
    super(mirror, files, log);
  }

  /** Follower (true) or leader (false): only a leader's store writes. */
  setReadOnly(on: boolean): void {
    this.readOnly = on;
  }

  get writable(): boolean {
    return !this.readOnly;
  }

  /** Runs `fn` as one unit: its writes are committed together (one txn where they fit), or not at all if it throws. */
  batch<T>(fn: () => T): T {
    if (this.tx) return fn();
    const tx: Tx = { journal: [], ops: new Map(), guards: [], after: [], undo: [], counters: { ...this.mirror.counters } };
    this.tx = tx;
    try {
      const out = fn();
      this.tx = null;
      if (tx.ops.size) this.committer.enqueue({ ops: tx.ops, guards: tx.guards, after: tx.after });
      return out;
    } catch (err) {
      this.tx = null;
      for (let i = tx.journal.length - 1; i >= 0; i--) this.mirror.apply(tx.journal[i]![0], tx.journal[i]![1] ?? null);
      this.mirror.counters = tx.counters;
      for (const undo of tx.undo) {
        try { undo(); } catch (e) { this.log.warn({ err: (e as Error).message }, 'etcd store: undoing a write failed'); }
      }
      throw err;
    }
  }

  /** Sets (null: deletes) a key in the mirror and queues it; a value equal to the one held is not written again. */
  private set(key: string, value: Value | null): void {
    if (this.readOnly) throw new Error(`etcd store: ${key} not written: this replica follows (only the leader writes)`);
    const tx = this.tx!;
    const prev = this.mirror.get(key);
    const json = value === null ? null : JSON.stringify({ w: this.writerId, v: value });
    if (value !== null && prev !== undefined && JSON.stringify({ w: this.writerId, v: prev }) === json) return;
    const buf = json === null ? null : Buffer.from(json);
    if (buf && buf.length > MAX_VALUE_BYTES) throw new Error(`etcd store: the value of ${key} is ${buf.length} bytes; at most ${MAX_VALUE_BYTES} are written (etcd refuses requests over 1.5 MiB)`);
    tx.journal.push([key, prev]);
    this.mirror.apply(key, value);
    tx.ops.set(this.prefix + key, buf);
  }

  // devices ---------------------------------------------------------------------------
  upsertDevice(d: DeviceInput, now: number = Date.now()): void {
    const prev = this.mirror.devices.get(d.deviceId);
    this.batch(() => this.set(deviceKey(d.deviceId), {
      device_id: d.deviceId, device_type: d.deviceType, product_type: d.productType, device_name: d.deviceName ?? null,
      command_url: d.commandUrl ?? null, longitude: d.longitude ?? null, latitude: d.latitude ?? null, online: 1, enabled: prev?.enabled ?? 1,
      registered_at: now, last_seen: now, total_resource: prev?.total_resource ?? null, available_resource: prev?.available_resource ?? null,
      alg_resource: prev?.alg_resource ?? null, alg_checked_at: 0,
    }));
  }

  /** Changes a device row; false when there is no such device. */
  private patchDevice(id: string, patch: (d: DeviceRow) => Partial<DeviceRow>): boolean {
    const cur = this.mirror.devices.get(id);
    if (cur) this.batch(() => this.set(deviceKey(id), { ...cur, ...patch(cur) }));
    return cur !== undefined;
  }

  /** `at`: when the sign of life arrived (a keepalive is stamped on arrival, not when written). */
  touchDevice(id: string, at: number = Date.now()): boolean {
    return this.patchDevice(id, (d) => ({ last_seen: Math.max(d.last_seen, at), online: 1 }));
  }

  setOnline(id: string, online: boolean): void {
    this.patchDevice(id, () => ({ online: online ? 1 : 0 }));
  }

  setEnabled(id: string, enabled: boolean): boolean {
    return this.patchDevice(id, () => ({ enabled: enabled ? 1 : 0 }));
  }

  /** Forgets an executor (its subtasks' history keeps its DeviceID, as in SQLite). */
  deleteDevice(id: string): boolean {
    const had = this.mirror.devices.has(id);
    if (had) this.batch(() => this.set(deviceKey(id), null));
    return had;
  }

  setTotalResource(r: TotalResource): boolean {
    return this.patchDevice(r.DeviceID, () => ({ total_resource: JSON.stringify(r) }));
  }

  setAvailableResource(r: AvailableResource): boolean {
    return this.patchDevice(r.DeviceID, () => ({ available_resource: JSON.stringify(r) }));
  }

  setAlgResource(id: string, r: AlgResource, at: number = Date.now()): void {
    this.patchDevice(id, () => ({ alg_resource: JSON.stringify(r), alg_checked_at: at }));
  }

  // tasks -----------------------------------------------------------------------------
  insertTask(taskId: string, basic: TaskBasicInfo, custom: CustomInfo, status: number, owner: string | null = null): void {
    if (this.mirror.tasks.has(taskId)) throw new Error(`UNIQUE constraint failed: tasks.task_id (task ${taskId} exists)`);
    const now = Date.now();
    this.batch(() => {
      const row = { task_id: taskId, basic_info: JSON.stringify(basic), custom_info: JSON.stringify(custom), status, exception_code: null, exception_desc: null, created_at: now, updated_at: now, owner };
      this.set(taskKey(taskId), { row, n: ++this.mirror.counters.task });
      this.event(taskId, null, null, status, null);
    });
  }

  setTaskStatus(id: string, status: number, exceptionCode: number | null = null, exceptionDesc: string | null = null): boolean {
    const cur = this.mirror.tasks.get(id);
    if (!cur || (cur.row.status === status && cur.row.exception_code === exceptionCode && cur.row.exception_desc === exceptionDesc)) return false;
    this.batch(() => {
      this.set(taskKey(id), { row: { ...cur.row, status, exception_code: exceptionCode, exception_desc: exceptionDesc, updated_at: Date.now() }, n: cur.n });
      this.event(id, null, null, status, exceptionCode);
    });
    return true;
  }

  /** Deletes a task with its subtasks, status history and results (their bodies once that is committed). */
  deleteTask(taskId: string): boolean {
    const task = this.mirror.tasks.get(taskId);
    this.batch(() => {
      // The task goes last: a delete too big for one txn, cut short, leaves a task to delete again, not orphans.
      for (const r of [...this.mirror.results.get(taskId) ?? []]) {
        this.set(resultKey(taskId, r.seq), null);
        if (r.dedup_key !== null) this.set(dedupKey(r.dedup_key), null);
        this.tx!.after.push(() => this.files.delete({ taskId, seq: r.seq, writer: r.writer }));
      }
      for (const e of [...this.mirror.events.get(taskId) ?? []]) this.set(eventKey(taskId, e.seq), null);
      for (const id of [...this.mirror.subtasksOfTask.get(taskId) ?? []]) this.set(subtaskKey(id), null);
      if (task) this.set(taskKey(taskId), null);
    });
    return task !== undefined;
  }

  // subtasks --------------------------------------------------------------------------
  insertSubtask(s: SubtaskInput): void {
    const now = Date.now();
    const prev = this.mirror.subtasks.get(s.subtaskId);
    if (!prev && !this.mirror.tasks.has(s.taskId)) throw new Error(`FOREIGN KEY constraint failed: subtask ${s.subtaskId} names task ${s.taskId}, which does not exist`);
    const dispatch = JSON.stringify(s.dispatch);
    const attempts = s.attempts ?? 1;
    // An upsert keeps the row's task_id, created_at and insertion order (SQLite's ON CONFLICT DO UPDATE).
    const row: SubtaskRow = prev
      ? { ...prev.row, device_id: s.deviceId, dispatch_info: dispatch, status: s.status, attempts, progress: 0, exception_code: null, exception_desc: null, updated_at: now }
      : { subtask_id: s.subtaskId, task_id: s.taskId, device_id: s.deviceId, dispatch_info: dispatch, status: s.status, progress: 0, exception_code: null, exception_desc: null, attempts, created_at: now, updated_at: now };
    this.batch(() => {
      this.set(subtaskKey(s.subtaskId), { row, n: prev?.n ?? ++this.mirror.counters.subtask });
      this.event(s.taskId, s.subtaskId, s.deviceId, s.status, null);
    });
  }

  /** Replaces a subtask's dispatch info in place (its destinations changed); status is kept. */
  setSubtaskDispatch(id: string, dispatch: TaskDispatchInfo): void {
    const cur = this.mirror.subtasks.get(id);
    if (cur) this.batch(() => this.set(subtaskKey(id), { row: { ...cur.row, dispatch_info: JSON.stringify(dispatch), updated_at: Date.now() }, n: cur.n }));
  }

  /** Records a status report for a subtask; false when its status did not change. */
  setSubtaskStatus(id: string, u: SubtaskStatusUpdate): boolean {
    const cur = this.mirror.subtasks.get(id);
    if (!cur) return false;
    const changed = cur.row.status !== u.status;
    this.batch(() => {
      const row: SubtaskRow = { ...cur.row, status: u.status, progress: u.progress ?? cur.row.progress, exception_code: u.exceptionCode ?? null, exception_desc: u.exceptionDesc ?? null, updated_at: Date.now() };
      this.set(subtaskKey(id), { row, n: cur.n });
      if (changed) this.event(cur.row.task_id, id, cur.row.device_id, u.status, u.exceptionCode ?? null);
    });
    return changed;
  }

  // history and results ---------------------------------------------------------------
  /** Appends a status event; the oldest beyond EVENTS_PER_TASK for the task are deleted. */
  private event(taskId: string, subtaskId: string | null, deviceId: string | null, status: number, code: number | null): void {
    const seq = ++this.mirror.counters.event;
    this.set(eventKey(taskId, seq), { seq, task_id: taskId, subtask_id: subtaskId, device_id: deviceId, status, exception_code: code, at: Date.now() });
    const list = this.mirror.events.get(taskId) ?? [];
    while (list.length > EVENTS_PER_TASK) this.set(eventKey(taskId, list[0]!.seq), null);
  }

  /** Stores a result once per dedup key; false for a duplicate (which, as in SQLite, still uses up a seq). */
  insertResult(taskId: string, body: TaskResultBody, dedup: string | null): boolean {
    checkSegment(taskId);
    return this.batch(() => {
      const tx = this.tx!;
      const seq = ++this.mirror.counters.result;
      if (dedup !== null && this.mirror.dedup.has(dedup)) return false;
      // The body is on disk before its index can reach etcd; a rolled-back write removes it again.
      const text = JSON.stringify(body);
      const ref = { taskId, seq, writer: this.writerId };
      this.files.put(ref, text);
      tx.undo.push(() => this.files.delete(ref));
      const entry: ResultEntry = { seq, task_id: taskId, subtask_id: body.TaskID, device_id: body.DeviceID, ts: body.Ts, dedup_key: dedup, bytes: text.length, received_at: Date.now(), writer: this.writerId };
      const rk = resultKey(taskId, seq);
      this.set(rk, entry);
      if (dedup === null) return true;
      const dk = dedupKey(dedup);
      // Already in this unit means deleted in it (a deleteTask before, in the same batch): the key
      // exists in etcd until this very txn, so no compare can hold; the delete proves it is ours.
      const reused = tx.ops.has(this.prefix + dk);
      this.set(dk, { task_id: taskId, seq });
      if (!reused) tx.guards.push({ key: this.prefix + dk, value: tx.ops.get(this.prefix + dk)!, drop: [this.prefix + rk, this.prefix + dk], onConflict: () => this.dropResult(entry) });
      return true;
    });
  }

  /** Another writer holds the result's dedup key: this copy leaves the mirror (unless the watch replaced it already) and the disk. */
  private dropResult(r: ResultEntry): void {
    const key = resultKey(r.task_id, r.seq);
    if (this.mirror.get(key) === r) this.mirror.apply(key, null);
    this.files.delete({ taskId: r.task_id, seq: r.seq, writer: r.writer });
  }
}
