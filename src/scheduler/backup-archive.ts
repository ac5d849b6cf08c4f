/**
 * The container both scheduler backups share (SB9): a SQLite file with a `backup_meta` table (the
 * format marker and facts about the backup) and a `backup_files` table, one row per file with
 * its path inside the backup, its SHA-256 and its bytes. The SQLite store's backup adds the two
 * tables to its copy of scheduler.db (backup.ts); the etcd store's backup is a file of its own
 * holding etcd's snapshot as well (etcd-backup.ts).
 *
 * A restore opens the file read-only, runs SQLite's quick_check, compares the format marker, and
 * checks every file's path and SHA-256 before anything is written anywhere. Paths come from the
 * file, which may be hostile: one is accepted only in the exact form a backup writes (segments
 * joined by `/`, none empty, `.`, `..`, with a backslash or a control character) and only where
 * the caller's rule says it belongs.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/** What, besides its store, a scheduler's data directory holds that matters (relative paths). */
// trained-models.key signs what training publishes: executors trust its .pub, so a restore keeps it.
export const STATE = ['repository', 'notify.secret', 'trusted-keys', 'trained-models.key', 'trained-models.pub'];
/** The state files that are secrets: restored readable by their owner only. */
export const SECRET_STATE = ['notify.secret', 'trained-models.key'];
/** A backup never carries more than this in data-directory files (packages are capped far below). */
export const MAX_STATE_BYTES = 8 * 1024 ** 3;

/** The marker of each kind of backup, in `backup_meta` under `format`. */
export const SQLITE_FORMAT = 'retinad-scheduler-backup/1';
export const ETCD_FORMAT = 'retinad-scheduler-etcd-backup/1';

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Regular files under `rel` (relative to `root`, native separators), symlinks not followed. */
export function filesUnder(root: string, rel: string): string[] {
  const abs = path.join(root, rel);
  if (!existsSync(abs)) return [];
  const st = lstatSync(abs);
  if (st.isFile()) return [rel];
  if (!st.isDirectory()) return [];
  return readdirSync(abs).flatMap((n) => filesUnder(root, path.join(rel, n)));
}

/** The state files of a data directory (relative, native separators). */
export const stateFiles = (dataDir: string): string[] => STATE.flatMap((r) => filesUnder(dataDir, r));

/** True when `dataDir` already holds scheduler state a restore would overwrite. */
export const holdsState = (dataDir: string): boolean =>
  existsSync(path.join(dataDir, 'scheduler.db')) || STATE.some((r) => existsSync(path.join(dataDir, r)));

/** The segments of a path as a backup writes it, or null when it is in any other form. */
export function segments(p: string): string[] | null {
  const parts = p.split('/');
  return parts.every((s) => s !== '' && s !== '.' && s !== '..' && !/[\\\u0000-\u001f\u007f]/.test(s)) ? parts : null;
}

/** True when `parts` name a scheduler state file (notify.secret, repository/…, …). */
export const isStatePath = (parts: string[]): boolean => STATE.includes(parts[0]!);

/** Creates the container's tables in `db` and writes its format marker and `meta`. */
export function createContainer(db: Database.Database, format: string, meta: Record<string, string> = {}): void {
  db.exec(`CREATE TABLE backup_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE backup_files (path TEXT PRIMARY KEY, sha256 TEXT NOT NULL, data BLOB NOT NULL)`);
  setMeta(db, { format, created: new Date().toISOString(), ...meta });
}

export function setMeta(db: Database.Database, meta: Record<string, string>): void {
  const put = db.prepare('INSERT OR REPLACE INTO backup_meta (key, value) VALUES (?, ?)');
  for (const [k, v] of Object.entries(meta)) put.run(k, v);
}

/**
 * Adds files of `root` (relative paths, native separators) under `prefix` in the container; a
 * file gone meanwhile is skipped. Returns how many were added and their bytes.
 */
export function putFiles(db: Database.Database, root: string, rels: string[], prefix = '', maxBytes = Number.POSITIVE_INFINITY): { files: number; bytes: number; gone: number } {
  const put = db.prepare('INSERT INTO backup_files (path, sha256, data) VALUES (?, ?, ?)');
  const out = { files: 0, bytes: 0, gone: 0 };
  db.transaction(() => {
    for (const rel of rels) {
      let data: Buffer;
      try {
        data = readFileSync(path.join(root, rel));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') { out.gone++; continue; }
        throw err;
      }
      out.bytes += data.length;
      if (out.bytes > maxBytes) throw new Error(`${root}: more than ${maxBytes} bytes of state files; not a scheduler data directory?`);
      put.run(prefix + rel.split(path.sep).join('/'), sha256(data), data);
      out.files++;
    }
  })();
  return out;
}

/** Opens a backup read-only after quick_check; the caller closes it. */
export function openContainer(from: string): Database.Database {
  if (!existsSync(from)) throw new Error(`--from: ${from} does not exist`);
  let db: Database.Database | undefined;
  try {
    db = new Database(from, { readonly: true, fileMustExist: true });
    const check = (db.pragma('quick_check') as Array<{ quick_check: string }>).map((r) => r.quick_check);
    if (check.some((c) => c !== 'ok')) throw new Error(`damaged (${check.slice(0, 2).join('; ')})`);
    return db;
  } catch (err) {
    db?.close();
    throw new Error(`--from: ${from} is not a usable backup: ${(err as Error).message}`);
  }
}

/** The container's meta table (empty when it has none). */
export function readMeta(db: Database.Database): Record<string, string> {
  try {
    return Object.fromEntries((db.prepare('SELECT key, value FROM backup_meta').all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]));
  } catch {
    return {};
  }
}

/** Throws unless the container is of `format`, naming the other kind of backup when it is one. */
export function checkFormat(meta: Record<string, string>, from: string, format: string): void {
  if (meta.format === format) return;
  if (meta.format === ETCD_FORMAT) throw new Error(`--from: ${from} is a backup of the etcd store: restore it with --etcd-data-dir NEWDIR --results NEWDIR [--data-dir NEWDIR]`);
  if (meta.format === SQLITE_FORMAT) throw new Error(`--from: ${from} is a backup of the SQLite store: restore it with --data-dir NEWDIR alone`);
  throw new Error(`--from: ${from} is not a retinad scheduler backup (format ${meta.format ?? 'missing'}, expected ${format})`);
}

/** One file of a checked container: its path and where it goes. */
export interface CheckedFile { path: string; parts: string[]; bytes: number }

/**
 * Checks every row of `backup_files` (one at a time, so a large backup is not held in memory):
 * `place` accepts its segments or the restore is refused, and its bytes must match its SHA-256.
 */
export function checkFiles(db: Database.Database, from: string, place: (parts: string[]) => boolean, outside: string): CheckedFile[] {
  const out: CheckedFile[] = [];
  for (const r of db.prepare('SELECT path, sha256, data FROM backup_files ORDER BY path').iterate() as Iterable<{ path: string; sha256: string; data: Buffer }>) {
    const parts = typeof r.path === 'string' ? segments(r.path) : null;
    if (!parts || !place(parts)) throw new Error(`--from: ${from} names a file outside ${outside} (${String(r.path).slice(0, 80)})`);
    if (!Buffer.isBuffer(r.data) || sha256(r.data) !== r.sha256) throw new Error(`--from: ${from}: ${r.path} does not match its SHA-256; the backup is damaged`);
    out.push({ path: r.path, parts, bytes: r.data.length });
  }
  return out;
}

/** The bytes of one file of the container. */
export function fileData(db: Database.Database, p: string): Buffer {
  return (db.prepare('SELECT data FROM backup_files WHERE path = ?').get(p) as { data: Buffer }).data;
}

/** `root` joined with `parts`, checked to lie inside `root` (the segments' rule already ensures it). */
export function inside(root: string, parts: string[]): string {
  const abs = path.join(path.resolve(root), ...parts);
  const rel = path.relative(path.resolve(root), abs);
  if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`${parts.join('/').slice(0, 80)} would lie outside ${root}`);
  return abs;
}
