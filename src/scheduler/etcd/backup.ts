/**
 * Backup of the etcd store of scheduler replicas (SB9, issue 14):
 * `retinad scheduler backup --store etcd://… --results DIR [--data-dir DIR] --out FILE`, taken
 * while the replicas keep running.
 *
 * One file, the container of backup-archive.ts (as the SQLite store's backup): etcd's own
 * snapshot of its whole backend, streamed through the Maintenance API into `backup_snapshot` in
 * chunks (its SHA-256 and size in `backup_meta`; etcd appends a SHA-256 of the database, checked
 * here as it will be by `etcdctl snapshot restore`), then the result bodies under `--results` as
 * `results/<taskId>/<seq>-<writer>.json`, and with `--data-dir` the files the SQLite backup
 * carries too (repository/, trusted-keys/, notify.secret, …) as `data/…`; each with its SHA-256.
 * etcd-restore.ts puts it back.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Etcd3, type IResponseStream, type ISnapshotResponse } from 'etcd3';
import { createContainer, ETCD_FORMAT, MAX_STATE_BYTES, putFiles, setMeta, stateFiles } from '../backup-archive.ts';
import { prefixEnd } from './keys.ts';
import { isBodyFileName, unsafeSegment } from './result-files.ts';

/** The prefix the replicas keep their keys under (replica-role.ts opens the store with the default). */
export const STORE_PREFIX = '/retinad/';
/** Snapshot bytes per row of `backup_snapshot` (SQLite's blob limit is 1 GB; the snapshot may be larger). */
const CHUNK = 4 * 1024 * 1024;
/** etcd appends the SHA-256 of the database to the snapshot stream. */
const ETCD_HASH = 32;

export interface EtcdBackupOptions {
  /** etcd client URLs (parseEtcdUrl of --store). */
  endpoints: string[];
  /** The replicas' shared results directory. */
  resultsDir: string;
  /** A replica's data directory, for repository/, trusted-keys/, notify.secret (optional). */
  dataDir?: string;
  out: string;
  prefix?: string;
  /** Runs once the snapshot is complete, before the results are copied (tests: a write in between). */
  afterSnapshot?: () => Promise<void>;
  /** How long the snapshot stream may stay silent before the backup gives up (default 60 s). */
  idleTimeoutMs?: number;
}

export interface EtcdBackupSummary {
  file: string;
  /** The snapshot's revision, or (etcd 3.4 sends no header) the store's revision just before it: the snapshot holds at least that. */
  revision: number;
  revisionExact: boolean;
  keys: number;
  snapshotBytes: number;
  results: number;
  resultBytes: number;
  dataFiles: number;
  dataBytes: number;
}

/** The result bodies under `dir`, relative (`<taskId>/<seq>-<writer>.json`); temporary files and anything else are left out. */
export function bodyFiles(dir: string): string[] {
  const out: string[] = [];
  for (const task of readdirSync(dir)) {
    const abs = path.join(dir, task);
    if (unsafeSegment(task) !== null || !lstatSync(abs, { throwIfNoEntry: false })?.isDirectory()) continue;
    let names: string[];
    try { names = readdirSync(abs); } catch { continue; } // the task was deleted meanwhile
    for (const name of names) if (isBodyFileName(name)) out.push(path.join(task, name));
  }
  return out;
}

/** Streams etcd's snapshot into `backup_snapshot`; resolves with its size, SHA-256 and the first header's revision (if etcd sent one). */
function saveSnapshot(client: Etcd3, db: Database.Database, idleMs: number): Promise<{ bytes: number; sha256: string; revision: number | null }> {
  const put = db.prepare('INSERT INTO backup_snapshot (n, data) VALUES (?, ?)');
  const whole = createHash('sha256');
  const inner = createHash('sha256'); // etcd's: over the database, without the hash it appends
  let tail = Buffer.alloc(0);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let n = 0;
  let bytes = 0;
  let revision: number | null | undefined;
  const flush = () => {
    if (!pendingBytes) return;
    put.run(n++, Buffer.concat(pending));
    pending = [];
    pendingBytes = 0;
  };
  return new Promise((resolve, reject) => {
    let stream: IResponseStream<ISnapshotResponse> | undefined;
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const fail = (err: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      (stream as { cancel?: () => void } | undefined)?.cancel?.();
      reject(err);
    };
    const idle = () => {
      clearTimeout(timer);
      timer = setTimeout(() => fail(new Error(`etcd sent no snapshot data for ${idleMs} ms`)), idleMs);
    };
    idle();
    // etcd3 1.1.2's rpc.js passes its call metadata where grpc-js expects the (empty) request, so
    // no auth token goes with it: an etcd with authentication enabled would refuse the snapshot.
    client.maintenance.snapshot().then((s) => {
      stream = s;
      s.on('data', (r: ISnapshotResponse) => {
        if (!done) try { take(r); } catch (err) { fail(err as Error); }
      });
      const take = (r: ISnapshotResponse) => {
        idle();
        if (revision === undefined) revision = r.header?.revision && r.header.revision !== '0' ? Number(r.header.revision) : null;
        const blob = Buffer.isBuffer(r.blob) ? r.blob : Buffer.from(r.blob ?? []);
        whole.update(blob);
        const joined = Buffer.concat([tail, blob]);
        const keep = Math.min(ETCD_HASH, joined.length);
        inner.update(joined.subarray(0, joined.length - keep));
        tail = Buffer.from(joined.subarray(joined.length - keep));
        pending.push(blob);
        pendingBytes += blob.length;
        bytes += blob.length;
        if (pendingBytes >= CHUNK) flush();
      };
      s.on('error', (err: Error) => fail(new Error(`etcd's snapshot stream failed: ${err.message}`)));
      s.on('end', () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (tail.length !== ETCD_HASH || !inner.digest().equals(tail)) {
          reject(new Error(`etcd's snapshot is cut short or damaged (${bytes} bytes; its own SHA-256 does not match)`));
          return;
        }
        try { flush(); } catch (err) { reject(err as Error); return; }
        resolve({ bytes, sha256: whole.digest('hex'), revision: revision ?? null });
      });
    }, (err: Error) => fail(new Error(`etcd refused the snapshot: ${err.message}`)));
  });
}

/** Writes a backup of the etcd store (and its result files, and a data directory's state) to `o.out` (replaced atomically). */
export async function backupEtcdStore(o: EtcdBackupOptions): Promise<EtcdBackupSummary> {
  if (!statSync(o.resultsDir, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`--results: ${o.resultsDir} is not a directory (the replicas' shared results directory)`);
  if (o.dataDir !== undefined && !statSync(o.dataDir, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`--data-dir: ${o.dataDir} is not a directory`);
  const prefix = o.prefix ?? STORE_PREFIX;
  const where = o.endpoints.join(',');
  const client = new Etcd3({ hosts: o.endpoints, defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + 10_000 }) });
  const tmp = `${o.out}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  const db = new Database(tmp);
  try {
    // The store's revision now: the snapshot, taken next, holds at least everything up to it.
    const key = Buffer.from(prefix);
    const range = await client.kv.range({ key, range_end: prefixEnd(key), count_only: true }).catch((err: Error) => {
      throw new Error(`--store: etcd at ${where} did not answer: ${err.message}`);
    });
    const keys = Number(range.count);
    if (!keys) throw new Error(`--store: etcd at ${where} holds no keys under ${prefix}: no scheduler replicas' state to back up`);
    createContainer(db, ETCD_FORMAT);
    db.exec('CREATE TABLE backup_snapshot (n INTEGER PRIMARY KEY, data BLOB NOT NULL)');
    db.exec('BEGIN');
    const snap = await saveSnapshot(client, db, o.idleTimeoutMs ?? 60_000);
    db.exec('COMMIT');
    await o.afterSnapshot?.();
    // The results are copied only now, after the snapshot is complete. A body is written to its
    // file before its index can reach etcd (writes.ts, insertResult), so every result the
    // snapshot indexes has its file by now; bodies written since are copied too and are harmless
    // (nothing indexes them: the restored store never reads them). The one gap: a task deleted
    // after the snapshot loses its files meanwhile (deleteTask removes them once its delete is
    // committed), so the restored store holds that task with results it skips, logging each.
    const results = putFiles(db, o.resultsDir, bodyFiles(o.resultsDir), 'results/');
    const data = o.dataDir === undefined ? { files: 0, bytes: 0 } : putFiles(db, o.dataDir, stateFiles(o.dataDir), 'data/', MAX_STATE_BYTES);
    const revision = snap.revision ?? Number(range.header.revision);
    setMeta(db, {
      'snapshot.sha256': snap.sha256, 'snapshot.bytes': String(snap.bytes), 'snapshot.revision': String(revision),
      'snapshot.revision.exact': String(snap.revision !== null), 'store.prefix': prefix, 'store.keys': String(keys), endpoints: where,
    });
    db.close();
    renameSync(tmp, o.out);
    return {
      file: o.out, revision, revisionExact: snap.revision !== null, keys, snapshotBytes: snap.bytes,
      results: results.files, resultBytes: results.bytes, dataFiles: data.files, dataBytes: data.bytes,
    };
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    if (db.open) db.close();
    rmSync(tmp, { force: true });
    throw err;
  } finally {
    client.close();
  }
}
