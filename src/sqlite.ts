/**
 * Opens a node's SQLite file (scheduler.db, executor.db) refusing to start on one that is not
 * what it should be (issue 10): a zero-length file where a database was (a failed copy, a full
 * disk) would otherwise start empty without a word and lose every task; a damaged one fails
 * `PRAGMA quick_check`. Either stops the start with a message that says what to do.
 */
import { existsSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';

/** Opens `file` in WAL mode after checking it; throws naming the file and the remedy. */
export function openDatabase(file: string): Database.Database {
  if (existsSync(file) && statSync(file).size === 0) {
    throw new Error(`${file}: the database file is empty (0 bytes) where data was expected; restore it from a backup, or remove it to start with no state`);
  }
  const db = new Database(file);
  try {
    const rows = db.pragma('quick_check') as Array<{ quick_check: string }>;
    const problems = rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
    if (problems.length) throw new Error(`${file}: PRAGMA quick_check found damage (${problems.slice(0, 3).join('; ')}); restore it from a backup`);
  } catch (err) {
    db.close();
    const m = (err as Error).message;
    throw new Error(m.startsWith(file) ? m : `${file}: not a usable SQLite database (${m}); restore it from a backup, or remove it to start with no state`);
  }
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  return db;
}
