/**
 * Where the etcd store keeps result bodies: not in etcd, whose values are meant to be small (a
 * request is at most 1.5 MiB and every value lives in every member's memory-mapped database).
 * `ResultFiles` is the seam an object store can implement later; `FsResultFiles` keeps each body
 * as `<dir>/<taskId>/<seq>-<writer>.json`. Replicas that read results must share that directory.
 * The writer is in the name because two writers can hand out one seq: a deposed leader that has
 * not yet learnt it is fenced must not overwrite the body its successor stored under that seq.
 *
 * The calls are synchronous because the store's reads are (results() answers from memory and
 * these files). The TaskID becomes a directory name, so one that is not a safe single path
 * segment is refused before any path is built: `..`, `a/b` or a NUL must not reach the disk.
 */
import { mkdirSync, readFileSync, renameSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Names one body: its task, its seq, and the writer (EtcdStore.writerId) that stored it. */
export interface ResultRef { taskId: string; seq: number; writer: string }

/** Result bodies by TaskID, seq and writer. */
export interface ResultFiles {
  /** Stores a body (replacing one with the same name); there to be read when it returns. */
  put(ref: ResultRef, body: string): void;
  /** The body, or undefined when there is none. */
  get(ref: ResultRef): string | undefined;
  /** Removes a body (nothing when there is none). */
  delete(ref: ResultRef): void;
}

/** The protocol's TaskID allows at most 128 UTF-8 bytes (fields.ts, TaskIDField). */
const TASK_ID_MAX_BYTES = 128;

/** Why `taskId` cannot name a directory, or null when it can. */
export function unsafeSegment(taskId: string): string | null {
  if (taskId.length === 0) return 'it is empty';
  if (Buffer.byteLength(taskId, 'utf8') > TASK_ID_MAX_BYTES) return `it is longer than ${TASK_ID_MAX_BYTES} UTF-8 bytes`;
  if (taskId === '.' || taskId === '..') return 'it names a directory itself (. or ..)';
  if (/[/\\\u0000-\u001f\u007f]/.test(taskId)) return 'it holds a path separator (/ or \\) or a control character';
  // A lone surrogate has no UTF-8 form: two different ids would become the same file name.
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(taskId)) return 'it is not well-formed Unicode (a lone surrogate)';
  return null;
}

/** Throws naming the TaskID and the rule unless it is a safe single path segment. */
export function checkSegment(taskId: string): void {
  const why = unsafeSegment(taskId);
  if (why) throw new Error(`TaskID ${JSON.stringify(taskId)} cannot name a results directory: ${why} (allowed: 1–${TASK_ID_MAX_BYTES} bytes, no / \\ or control characters, not . or ..)`);
}

/** Why a writer id cannot be part of a file name, or null when it can. */
export function unsafeWriterId(id: string): string | null {
  return /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/.test(id) ? null : `writer id ${JSON.stringify(id)}: use 1–64 of A-Z a-z 0-9 . _ - (not starting with .)`;
}

/** True when `name` is a body's file name as `FsResultFiles.put` leaves it (`<seq>-<writer>.json`; not a temporary file). */
export function isBodyFileName(name: string): boolean {
  const m = /^(\d{1,16})-(.+)\.json$/.exec(name);
  return m !== null && unsafeWriterId(m[2]!) === null;
}

/** Bodies as files under one directory. */
export class FsResultFiles implements ResultFiles {
  private readonly root: string;

  constructor(dir: string) {
    this.root = path.resolve(dir);
    mkdirSync(this.root, { recursive: true });
  }

  /** The body's path, checked to lie in its task's directory under the root. */
  private file({ taskId, seq, writer }: ResultRef): { dir: string; file: string } {
    checkSegment(taskId);
    if (!Number.isSafeInteger(seq) || seq < 0) throw new Error(`result seq ${seq}: not a non-negative integer`);
    const bad = unsafeWriterId(writer);
    if (bad) throw new Error(bad);
    const dir = path.join(this.root, taskId);
    // Belt and braces: the rule above already keeps the path here.
    if (path.dirname(dir) !== this.root) throw new Error(`TaskID ${JSON.stringify(taskId)}: its directory would lie outside ${this.root}`);
    return { dir, file: path.join(dir, `${seq}-${writer}.json`) };
  }

  put(ref: ResultRef, body: string): void {
    const { dir, file } = this.file(ref);
    mkdirSync(dir, { recursive: true });
    // A reader never sees half a body: the file appears whole, by rename.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, body);
    renameSync(tmp, file);
  }

  get(ref: ResultRef): string | undefined {
    try {
      return readFileSync(this.file(ref).file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  delete(ref: ResultRef): void {
    const { dir, file } = this.file(ref);
    try { unlinkSync(file); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; }
    // The task's directory goes with its last body; one still holding others stays.
    try { rmdirSync(dir); } catch { /* not empty, or gone */ }
  }
}
