/**
 * WAL checkpoints on a thread of their own. SQLite's automatic checkpoint runs inside the COMMIT
 * that crosses 1,000 WAL pages: it copies them into the database file and syncs it, holding a
 * node's event loop for milliseconds (3–6 ms per checkpoint seen at 2,000 subtasks/s, a quarter
 * of the scheduler's commit time). Here the writing connection turns that off and a worker with
 * its own connection runs a PASSIVE checkpoint every CHECKPOINT_EVERY_MS: it never blocks the
 * writer or its readers, and a commit is as durable as before (the WAL is written either way;
 * synchronous=NORMAL). Should the worker fail, the writer checkpoints itself again.
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';

export const CHECKPOINT_EVERY_MS = 200;
/** SQLite's own default, restored when the worker is gone. */
const AUTO_CHECKPOINT_PAGES = 1000;

// CommonJS, run with eval: the worker loads better-sqlite3 from the path the node resolved.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
// A checkpoint that fails now (the file busy, the disk full) is tried again next time.
const timer = setInterval(() => { try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {} }, workerData.everyMs);
const done = new Int32Array(workerData.done);
Atomics.store(done, 1, 1); // started: a stop from now on waits for the close
parentPort.on('message', () => {
  clearInterval(timer);
  try { db.close(); } finally { Atomics.store(done, 0, 1); Atomics.notify(done, 0); parentPort.close(); }
});
`;
/** How long stop() waits for the worker to let go of the file. */
const STOP_WAIT_MS = 2000;

export class Checkpointer {
  private readonly worker: Worker;
  private stopped = false;
  /** [0]: set by the worker once its connection is closed; [1]: once it has started checkpointing. */
  private readonly done = new Int32Array(new SharedArrayBuffer(8));

  /** `db`: the writing connection of `file` (WAL mode). */
  constructor(private readonly db: Database.Database, file: string, everyMs = CHECKPOINT_EVERY_MS) {
    db.pragma('wal_autocheckpoint = 0');
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, file, everyMs, done: this.done.buffer } });
    this.worker.unref(); // it never keeps a node alive
    const fallBack = () => {
      if (this.stopped || !this.db.open) return;
      this.stopped = true;
      this.db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
    };
    this.worker.once('error', fallBack);
    this.worker.once('exit', fallBack);
  }

  /**
   * Stops the worker and waits (a few ms, at most STOP_WAIT_MS) until it has closed its
   * connection: once this returns, nothing but the writer touches the file (a backup, a copy or
   * a removal of the data directory may follow). The writer checkpoints by itself again.
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    // Still starting (a store opened and closed at once): no checkpoint has run, none will.
    if (Atomics.load(this.done, 1) === 0) void this.worker.terminate();
    else {
      this.worker.postMessage('stop');
      Atomics.wait(this.done, 0, 0, STOP_WAIT_MS);
    }
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
  }
}
