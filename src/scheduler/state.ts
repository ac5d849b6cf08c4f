/**
 * Where a scheduler keeps its state: the store given (shared by replicas: etcd) with a SQLite
 * file of this process's own beside it, or the embedded default, one SQLite file for both.
 */
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { openDatabase } from '../sqlite.ts';
import { SchedulerStore } from './store.ts';
import type { SchedulerStateStore } from './store-types.ts';

export interface SchedulerState {
  store: SchedulerStateStore;
  /** This process's own tables (the MQTT sink's queue, cascade links). */
  localDb: Database.Database;
  /** Closes what this function opened (a shared store is its owner's to close). */
  close(): void;
}

export function openState(dataDir: string, shared?: SchedulerStateStore): SchedulerState {
  if (shared) {
    mkdirSync(dataDir, { recursive: true });
    const localDb = openDatabase(path.join(dataDir, 'scheduler-local.db'));
    return { store: shared, localDb, close: () => localDb.close() };
  }
  const sqlite = new SchedulerStore(dataDir);
  return { store: sqlite, localDb: sqlite.db, close: () => sqlite.close() };
}
