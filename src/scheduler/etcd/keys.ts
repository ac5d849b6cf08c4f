/**
 * The etcd store's key layout and values. Keys are relative to the store's prefix; every value is
 * JSON `{ w, v }`: `w` names the writer (a replica ignores the watch echo of its own puts), `v` is
 * the row. Ids are percent-encoded in keys so an id holding `/` cannot reach into another key's
 * range, and sequence numbers are zero-padded so a key range lists them in order.
 *
 *   devices/<id>             DeviceRow
 *   tasks/<id>               TaskEntry (the row and its insertion ordinal)
 *   subtasks/<id>            SubtaskEntry
 *   events/<taskId>/<seq>    EventRow (the newest EVENTS_PER_TASK per task are kept)
 *   results/<taskId>/<seq>   ResultEntry (the index; the body is a ResultFiles file)
 *   dedup/<key>              DedupEntry (insertResult's dedup key, compared in the txn)
 *   meta/counters            Counters (so a seq is not handed out twice after a delete)
 */
import { createHash } from 'node:crypto';
import type { DeviceRow, SubtaskRow, TaskRow } from '../store-types.ts';

/** Status events kept per task in etcd (SQLite keeps them all; etcd values are not a log). */
export const EVENTS_PER_TASK = 256;

/** A task row with the order it was inserted in (SQLite's rowid: ties of created_at, scans). */
export interface TaskEntry { row: TaskRow; n: number }
export interface SubtaskEntry { row: SubtaskRow; n: number }
export interface EventRow { seq: number; task_id: string; subtask_id: string | null; device_id: string | null; status: number; exception_code: number | null; at: number }
/** One stored result without its body; `bytes` is the body's JSON length (results()' maxBytes), `writer` names its body file. */
export interface ResultEntry { seq: number; task_id: string; subtask_id: string; device_id: string; ts: number; dedup_key: string | null; bytes: number; received_at: number; writer: string }
export interface DedupEntry { task_id: string; seq: number }
/** The highest numbers handed out: result and event seqs, task and subtask ordinals. */
export interface Counters { result: number; event: number; task: number; subtask: number }

export type Value = DeviceRow | TaskEntry | SubtaskEntry | EventRow | ResultEntry | DedupEntry | Counters;
/** What a key holds in etcd. */
export interface Envelope { w: string; v: Value }

export type ParsedKey =
  | { kind: 'device' | 'task' | 'subtask' | 'dedup'; id: string }
  | { kind: 'event' | 'result'; id: string; seq: number }
  | { kind: 'meta' };

const enc = encodeURIComponent;
const pad = (seq: number) => String(seq).padStart(16, '0');

export const deviceKey = (id: string) => `devices/${enc(id)}`;
export const taskKey = (id: string) => `tasks/${enc(id)}`;
export const subtaskKey = (id: string) => `subtasks/${enc(id)}`;
export const eventKey = (taskId: string, seq: number) => `events/${enc(taskId)}/${pad(seq)}`;
export const resultKey = (taskId: string, seq: number) => `results/${enc(taskId)}/${pad(seq)}`;
export const META_KEY = 'meta/counters';

/** A dedup key; a long one is hashed (`#` never survives encodeURIComponent, so no clash). */
export function dedupKey(key: string): string {
  return key.length <= 200 ? `dedup/${enc(key)}` : `dedup/#${createHash('sha256').update(key).digest('hex')}`;
}

function decode(s: string): string | null {
  try { return decodeURIComponent(s); } catch { return null; }
}

/** What a relative key names; null for a key that is not ours (it is skipped, not trusted). */
export function parseKey(key: string): ParsedKey | null {
  if (key === META_KEY) return { kind: 'meta' };
  const slash = key.indexOf('/');
  if (slash < 0) return null;
  const head = key.slice(0, slash);
  const rest = key.slice(slash + 1);
  if (head === 'events' || head === 'results') {
    const m = /^([^/]+)\/(\d{16})$/.exec(rest);
    const id = m ? decode(m[1]!) : null;
    return m && id !== null ? { kind: head === 'events' ? 'event' : 'result', id, seq: Number(m[2]) } : null;
  }
  const kinds: Record<string, 'device' | 'task' | 'subtask' | 'dedup'> = { devices: 'device', tasks: 'task', subtasks: 'subtask', dedup: 'dedup' };
  const kind = Object.hasOwn(kinds, head) ? kinds[head] : undefined;
  if (!kind || rest === '' || rest.includes('/')) return null;
  const id = kind === 'dedup' ? rest : decode(rest);
  return id === null ? null : { kind, id };
}

/** The end of the key range that holds every key starting with `prefix` (etcd's range_end). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    const b = end[i]!;
    if (b < 0xff) { end[i] = b + 1; return end.subarray(0, i + 1); }
  }
  return Buffer.from([0]);
}
