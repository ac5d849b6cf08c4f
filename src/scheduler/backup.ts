/**
 * Backup and restore of a scheduler's state (SB9: fast recovery after a fault), for the embedded
 * SQLite store: `retinad scheduler backup --data-dir DIR --out FILE` while the scheduler runs,
 * `retinad scheduler restore --data-dir NEWDIR --from FILE` on the machine that takes over.
 *
 * The backup is one file, itself a SQLite database: a consistent snapshot of scheduler.db taken
 * with SQLite's online backup (the running scheduler keeps writing; the copy is one moment),
 * plus a table holding every other file the state needs — the algorithm repository's packages
 * and index, the NotifyURL signing secret (without it the keys handed to initiators no longer
 * verify), trusted publisher keys. One file is checked (quick_check, a format marker, a SHA-256
 * per file) before anything is written, and a restore never overwrites a data directory that
 * holds state.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/** The format marker; a restore refuses a file without it. */
const FORMAT = 'retinad-scheduler-backup/1';
/** What, besides scheduler.db, a scheduler's data directory holds that matters (relative paths). */
// trained-models.key signs what training publishes: executors trust its .pub, so a restore keeps it.
const STATE = ['repository', 'notify.secret', 'trusted-keys', 'trained-models.key', 'trained-models.pub'];
/** A backup never carries more than this in files (packages are capped far below). */
const MAX_FILES_BYTES = 8 * 1024 ** 3;

export interface BackupSummary {
  file: string;
  tasks: number;
  devices: number;
  files: number;
  bytes: number;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Regular files under `dir` (relative to `root`), symlinks not followed. */
function filesUnder(root: string, rel: string): string[] {
  const abs = path.join(root, rel);
  if (!existsSync(abs)) return [];
  const st = lstatSync(abs);
  if (st.isFile()) return [rel];
  if (!st.isDirectory()) return [];
  return readdirSync(abs).flatMap((n) => filesUnder(root, path.join(rel, n)));
}

/** Writes a backup of the scheduler state in `dataDir` to `out` (replaced atomically). */
export async function backupScheduler(dataDir: string, out: string): Promise<BackupSummary> {
  const dbFile = path.join(dataDir, 'scheduler.db');
  if (!existsSync(dbFile)) throw new Error(`--data-dir: ${dataDir} holds no scheduler.db: nothing to back up`);
  const tmp = `${out}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  const src = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    await src.backup(tmp);
  } finally {
    src.close();
  }
  const db = new Database(tmp);
  try {
    let bytes = 0;
    const files = STATE.flatMap((r) => filesUnder(dataDir, r));
    db.exec(`CREATE TABLE backup_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE backup_files (path TEXT PRIMARY KEY, sha256 TEXT NOT NULL, data BLOB NOT NULL)`);
    const put = db.prepare('INSERT INTO backup_files (path, sha256, data) VALUES (?, ?, ?)');
    db.transaction(() => {
      for (const rel of files) {
        const data = readFileSync(path.join(dataDir, rel));
        bytes += data.length;
        if (bytes > MAX_FILES_BYTES) throw new Error(`${dataDir}: more than ${MAX_FILES_BYTES} bytes of state files; not a scheduler data directory?`);
        put.run(rel.split(path.sep).join('/'), sha256(data), data);
      }
      db.prepare('INSERT INTO backup_meta (key, value) VALUES (?, ?), (?, ?)').run('format', FORMAT, 'created', new Date().toISOString());
    })();
    const count = (t: string) => (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
    const summary = { file: out, tasks: count('tasks'), devices: count('devices'), files: files.length, bytes };
    db.close();
    renameSync(tmp, out);
    return summary;
  } catch (err) {
    if (db.open) db.close();
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Restores the backup `from` into `dataDir`, which must hold no scheduler state. */
export function restoreScheduler(from: string, dataDir: string): BackupSummary {
  if (!existsSync(from)) throw new Error(`--from: ${from} does not exist`);
  const target = path.join(dataDir, 'scheduler.db');
  if (existsSync(target) || STATE.some((r) => existsSync(path.join(dataDir, r)))) {
    throw new Error(`--data-dir: ${dataDir} already holds scheduler state; restore into an empty directory (a restore never overwrites)`);
  }
  let db: Database.Database;
  try {
    db = new Database(from, { readonly: true, fileMustExist: true });
    const check = (db.pragma('quick_check') as Array<{ quick_check: string }>).map((r) => r.quick_check);
    if (check.some((c) => c !== 'ok')) throw new Error(`damaged (${check.slice(0, 2).join('; ')})`);
  } catch (err) {
    throw new Error(`--from: ${from} is not a usable backup: ${(err as Error).message}`);
  }
  try {
    const format = (() => { try { return (db.prepare("SELECT value FROM backup_meta WHERE key = 'format'").get() as { value: string } | undefined)?.value; } catch { return undefined; } })();
    if (format !== FORMAT) throw new Error(`--from: ${from} is not a retinad scheduler backup (format ${format ?? 'missing'}, expected ${FORMAT})`);
    const rows = db.prepare('SELECT path, sha256, data FROM backup_files').all() as Array<{ path: string; sha256: string; data: Buffer }>;
    for (const r of rows) {
      const rel = path.normalize(r.path);
      // Paths come from the file: only the state's own places, never out of the data directory.
      if (path.isAbsolute(rel) || rel.split(path.sep).includes('..') || !STATE.some((s) => rel === s || rel.startsWith(s + path.sep))) {
        throw new Error(`--from: ${from} names a file outside a scheduler's state (${r.path.slice(0, 80)})`);
      }
      if (sha256(r.data) !== r.sha256) throw new Error(`--from: ${from}: ${r.path} does not match its SHA-256; the backup is damaged`);
    }
    mkdirSync(dataDir, { recursive: true });
    const tmp = `${target}.restoring`;
    rmSync(tmp, { force: true });
    // The database without the backup's own tables, written whole before it takes the real name.
    db.close();
    writeFileSync(tmp, readFileSync(from));
    const clean = new Database(tmp);
    const summary: BackupSummary = { file: from, tasks: 0, devices: 0, files: rows.length, bytes: rows.reduce((n, r) => n + r.data.length, 0) };
    try {
      clean.exec('DROP TABLE backup_files; DROP TABLE backup_meta; VACUUM');
      summary.tasks = (clean.prepare('SELECT count(*) AS n FROM tasks').get() as { n: number }).n;
      summary.devices = (clean.prepare('SELECT count(*) AS n FROM devices').get() as { n: number }).n;
    } finally {
      clean.close();
    }
    for (const r of rows) {
      const abs = path.join(dataDir, path.normalize(r.path));
      mkdirSync(path.dirname(abs), { recursive: true });
      writeFileSync(abs, r.data, { mode: r.path === 'notify.secret' || r.path === 'trained-models.key' ? 0o600 : 0o644 });
    }
    renameSync(tmp, target);
    return summary;
  } finally {
    if (db.open) db.close();
  }
}
