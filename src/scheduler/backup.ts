/**
 * Backup and restore of a scheduler's state (SB9: fast recovery after a fault), for the embedded
 * SQLite store: `retinad scheduler backup --data-dir DIR --out FILE` while the scheduler runs,
 * `retinad scheduler restore --data-dir NEWDIR --from FILE` on the machine that takes over.
 * (The etcd store of scheduler replicas has its own: etcd-backup.ts, etcd-restore.ts.)
 *
 * The backup is one file, itself a SQLite database: a consistent snapshot of scheduler.db taken
 * with SQLite's online backup (the running scheduler keeps writing; the copy is one moment),
 * plus the container's tables (backup-archive.ts) holding every other file the state needs — the
 * algorithm repository's packages and index, the NotifyURL signing secret (without it the keys
 * handed to initiators no longer verify), trusted publisher keys. One file is checked
 * (quick_check, a format marker, a SHA-256 per file) before anything is written, and a restore
 * never overwrites a data directory that holds state.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  checkFiles, checkFormat, createContainer, fileData, holdsState, inside, isStatePath, MAX_STATE_BYTES, openContainer, putFiles, readMeta,
  SECRET_STATE, SQLITE_FORMAT, stateFiles,
} from './backup-archive.ts';

export interface BackupSummary {
  file: string;
  tasks: number;
  devices: number;
  files: number;
  bytes: number;
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
    createContainer(db, SQLITE_FORMAT);
    const { files, bytes } = putFiles(db, dataDir, stateFiles(dataDir), '', MAX_STATE_BYTES);
    const count = (t: string) => (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
    const summary = { file: out, tasks: count('tasks'), devices: count('devices'), files, bytes };
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
  const db = openContainer(from);
  try {
    if (holdsState(dataDir)) {
      throw new Error(`--data-dir: ${dataDir} already holds scheduler state; restore into an empty directory (a restore never overwrites)`);
    }
    checkFormat(readMeta(db), from, SQLITE_FORMAT);
    // Paths come from the file: only the state's own places, never out of the data directory.
    const files = checkFiles(db, from, isStatePath, "a scheduler's state");
    const target = path.join(dataDir, 'scheduler.db');
    mkdirSync(dataDir, { recursive: true });
    const tmp = `${target}.restoring`;
    rmSync(tmp, { force: true });
    // The database without the backup's own tables, written whole before it takes the real name.
    writeFileSync(tmp, readFileSync(from));
    const summary: BackupSummary = { file: from, tasks: 0, devices: 0, files: files.length, bytes: files.reduce((n, f) => n + f.bytes, 0) };
    const clean = new Database(tmp);
    try {
      clean.exec('DROP TABLE backup_files; DROP TABLE backup_meta; VACUUM');
      summary.tasks = (clean.prepare('SELECT count(*) AS n FROM tasks').get() as { n: number }).n;
      summary.devices = (clean.prepare('SELECT count(*) AS n FROM devices').get() as { n: number }).n;
    } finally {
      clean.close();
    }
    for (const f of files) {
      const abs = inside(dataDir, f.parts);
      mkdirSync(path.dirname(abs), { recursive: true });
      writeFileSync(abs, fileData(db, f.path), { mode: SECRET_STATE.includes(f.path) ? 0o600 : 0o644 });
    }
    renameSync(tmp, target);
    return summary;
  } finally {
    db.close();
  }
}
