/**
 * The etcd store's in-memory copy of its prefix: rows by id plus the indexes the reads need
 * (subtasks per task and per device, active counts, events and results per task in seq order,
 * dedup keys). Everything goes through `apply(key, value)`, whether the value was loaded at open,
 * arrived by the watch or was written here, so a mirror rebuilt from etcd equals the one that
 * wrote it.
 */
import { ACTIVE_STATUSES, type DeviceRow } from '../store-types.ts';
import { deviceKey, eventKey, parseKey, resultKey, subtaskKey, taskKey, type Counters, type EventRow, type ResultEntry, type SubtaskEntry, type TaskEntry, type Value } from './keys.ts';

/** What a change touched, as onChange reports it (events count as their task's). */
export interface Change { kind: 'device' | 'task' | 'subtask' | 'result'; id: string }

const isActive = (status: number) => ACTIVE_STATUSES.includes(status);

/** Index of the first item of `list` (sorted by seq) whose seq is at least `seq`. */
export function lowerBound(list: ReadonlyArray<{ seq: number }>, seq: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]!.seq < seq) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/** Puts `item` into `list` in seq order; returns the item it replaced (same seq), if any. */
function putBySeq<T extends { seq: number }>(list: T[], item: T): T | undefined {
  const last = list[list.length - 1];
  if (!last || last.seq < item.seq) { list.push(item); return undefined; } // the usual case: a new seq
  const i = lowerBound(list, item.seq);
  const old = list[i];
  if (old?.seq === item.seq) { list[i] = item; return old; }
  list.splice(i, 0, item);
  return undefined;
}

function removeBySeq<T extends { seq: number }>(list: T[] | undefined, seq: number): T | undefined {
  if (!list) return undefined;
  const i = lowerBound(list, seq);
  return list[i]?.seq === seq ? list.splice(i, 1)[0] : undefined;
}

function addTo<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  let s = m.get(k);
  if (!s) { s = new Set(); m.set(k, s); }
  s.add(v);
}

function removeFrom<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (s?.delete(v) && s.size === 0) m.delete(k);
}

/** Binary (UTF-8 byte) order, as SQLite's ORDER BY on TEXT: code points, not UTF-16 units. */
export function byteOrder(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++; // both are the same pair here
  }
  return a.length - b.length;
}

export class Mirror {
  readonly devices = new Map<string, DeviceRow>();
  readonly tasks = new Map<string, TaskEntry>();
  readonly subtasks = new Map<string, SubtaskEntry>();
  readonly subtasksOfTask = new Map<string, Set<string>>();
  readonly subtasksOfDevice = new Map<string, Set<string>>();
  /** Active subtasks per device (a live map: activeCountByDevice hands it out). */
  readonly active = new Map<string, number>();
  readonly events = new Map<string, EventRow[]>();
  readonly results = new Map<string, ResultEntry[]>();
  readonly resultsOfSubtask = new Map<string, ResultEntry[]>();
  readonly dedup = new Map<string, ResultEntry>();
  counters: Counters = { result: 0, event: 0, task: 0, subtask: 0 };
  private deviceOrder: string[] | null = null;
  private taskOrder: string[] | null = null;

  /** Device ids in SQLite's ORDER BY device_id (kept until a device comes or goes). */
  deviceIds(): readonly string[] {
    this.deviceOrder ??= [...this.devices.keys()].sort(byteOrder);
    return this.deviceOrder;
  }

  /** Task ids newest first: created_at, then insertion order, both descending. */
  recentTaskIds(): readonly string[] {
    this.taskOrder ??= [...this.tasks.entries()]
      .sort(([, a], [, b]) => b.row.created_at - a.row.created_at || b.n - a.n).map(([id]) => id);
    return this.taskOrder;
  }

  /** The value at a key as apply() takes it; undefined when there is none (or it is derived). */
  get(key: string): Value | undefined {
    const k = parseKey(key);
    switch (k?.kind) {
      case 'device': return this.devices.get(k.id);
      case 'task': return this.tasks.get(k.id);
      case 'subtask': return this.subtasks.get(k.id);
      case 'event': { const l = this.events.get(k.id) ?? []; const e = l[lowerBound(l, k.seq)]; return e?.seq === k.seq ? e : undefined; }
      case 'result': { const l = this.results.get(k.id) ?? []; const e = l[lowerBound(l, k.seq)]; return e?.seq === k.seq ? e : undefined; }
      default: return undefined;
    }
  }

  /** Every key with its value (for a resync after the watch lost its place). */
  *entries(): Generator<[string, Value]> {
    for (const [id, v] of this.devices) yield [deviceKey(id), v];
    for (const [id, v] of this.tasks) yield [taskKey(id), v];
    for (const [id, v] of this.subtasks) yield [subtaskKey(id), v];
    for (const [id, l] of this.events) for (const e of l) yield [eventKey(id, e.seq), e];
    for (const [id, l] of this.results) for (const r of l) yield [resultKey(id, r.seq), r];
  }

  /** Sets (or with null removes) the value at a relative key; says what changed. */
  apply(key: string, value: Value | null): Change | null {
    const k = parseKey(key);
    if (!k) return null;
    switch (k.kind) {
      case 'device': {
        const had = this.devices.has(k.id);
        if (value) this.devices.set(k.id, value as DeviceRow); else this.devices.delete(k.id);
        if (had !== (value !== null)) this.deviceOrder = null;
        return { kind: 'device', id: k.id };
      }
      case 'task': {
        const e = value as TaskEntry | null;
        const prev = this.tasks.get(k.id);
        if (e) { this.tasks.set(k.id, e); this.counters.task = Math.max(this.counters.task, e.n); } else this.tasks.delete(k.id);
        if (!prev || !e || prev.n !== e.n || prev.row.created_at !== e.row.created_at) this.taskOrder = null;
        return { kind: 'task', id: k.id };
      }
      case 'subtask': {
        const e = value as SubtaskEntry | null;
        const prev = this.subtasks.get(k.id);
        if (prev) this.index(k.id, prev, -1);
        if (e) { this.subtasks.set(k.id, e); this.index(k.id, e, 1); this.counters.subtask = Math.max(this.counters.subtask, e.n); } else this.subtasks.delete(k.id);
        return { kind: 'subtask', id: k.id };
      }
      case 'event': {
        const list = this.events.get(k.id) ?? [];
        if (value) putBySeq(list, value as EventRow); else removeBySeq(list, k.seq);
        if (list.length) this.events.set(k.id, list); else this.events.delete(k.id);
        this.counters.event = Math.max(this.counters.event, k.seq);
        return { kind: 'task', id: k.id };
      }
      case 'result': {
        const list = this.results.get(k.id) ?? [];
        const old = value ? putBySeq(list, value as ResultEntry) : removeBySeq(list, k.seq);
        if (list.length) this.results.set(k.id, list); else this.results.delete(k.id);
        if (old) this.indexResult(old, -1);
        if (value) this.indexResult(value as ResultEntry, 1);
        this.counters.result = Math.max(this.counters.result, k.seq);
        return { kind: 'result', id: k.id };
      }
      case 'meta': {
        const c = value as Counters | null;
        if (c) for (const f of ['result', 'event', 'task', 'subtask'] as const) this.counters[f] = Math.max(this.counters[f], Number(c[f]) || 0);
        return null;
      }
      case 'dedup': return null; // derived from the results (their dedup_key)
    }
  }

  /** Adds (1) or removes (-1) a subtask from the per-task and per-device indexes and the active counts. */
  private index(id: string, e: SubtaskEntry, sign: 1 | -1): void {
    const { task_id: task, device_id: device, status } = e.row;
    if (sign > 0) { addTo(this.subtasksOfTask, task, id); addTo(this.subtasksOfDevice, device, id); } else { removeFrom(this.subtasksOfTask, task, id); removeFrom(this.subtasksOfDevice, device, id); }
    if (!isActive(status)) return;
    const n = (this.active.get(device) ?? 0) + sign;
    if (n > 0) this.active.set(device, n); else this.active.delete(device);
  }

  private indexResult(r: ResultEntry, sign: 1 | -1): void {
    let list = this.resultsOfSubtask.get(r.subtask_id);
    if (sign > 0) {
      if (!list) { list = []; this.resultsOfSubtask.set(r.subtask_id, list); }
      putBySeq(list, r);
      if (r.dedup_key !== null) this.dedup.set(r.dedup_key, r);
      return;
    }
    removeBySeq(list, r.seq);
    if (list && !list.length) this.resultsOfSubtask.delete(r.subtask_id);
    if (r.dedup_key !== null && this.dedup.get(r.dedup_key)?.seq === r.seq) this.dedup.delete(r.dedup_key);
  }
}
