/**
 * Restore of an etcd store backup (SB9, issue 14; backup.ts writes it):
 * `retinad scheduler restore --from FILE --etcd-data-dir NEWDIR --results NEWDIR [--data-dir NEWDIR]`.
 *
 * Everything is checked before anything is written: the container (quick_check, format), the
 * snapshot's chunks and SHA-256, every file's path and SHA-256, that the targets are empty (a
 * restore never overwrites) and apart, and that `etcdctl` is there. Then the snapshot becomes a
 * new etcd data directory by `etcdctl snapshot restore` (Debian's etcd-client; it checks etcd's
 * own SHA-256 of the database too), a one-member cluster named `--etcd-name` whose peer URL is
 * `--etcd-peer-url`; the result bodies go under --results, the data directory's state files
 * under --data-dir. The operator then starts etcd on that directory and the replicas on it.
 * Revisions carry on from the snapshot, so the first leader's epoch is above every earlier one
 * and executors accept its commands.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, rmdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import {
  checkFiles, checkFormat, ETCD_FORMAT, fileData, inside, isStatePath, openContainer, readMeta, SECRET_STATE, type CheckedFile,
} from '../backup-archive.ts';
import { isBodyFileName, unsafeSegment } from './result-files.ts';

export interface EtcdRestoreOptions {
  from: string;
  /** The new etcd data directory (absent or empty). */
  etcdDataDir: string;
  /** The new results directory (absent or empty). */
  resultsDir: string;
  /** A replica's new data directory for the state files (holding no scheduler state). */
  dataDir?: string;
  /** The restored member's name and peer URL (etcd's defaults: default, http://localhost:2380). */
  etcdName?: string;
  etcdPeerUrl?: string;
  /** The environment `etcdctl` is looked up in (PATH, RETINAD_ETCDCTL_BIN) and run with. */
  env?: NodeJS.ProcessEnv;
}

export interface EtcdRestoreSummary {
  file: string;
  /** The snapshot's revision, as `etcdctl snapshot status` reads it. */
  revision: number;
  snapshotBytes: number;
  results: number;
  resultBytes: number;
  dataFiles: number;
  /** State files the backup holds that were not written (no --data-dir). */
  dataSkipped: number;
  etcdName: string;
  etcdPeerUrl: string;
}

/** Where etcdctl is: $RETINAD_ETCDCTL_BIN, else the first on PATH; a clear error naming the package when there is none. */
export function findEtcdctl(env: NodeJS.ProcessEnv = process.env): string {
  const runnable = (f: string) => { try { accessSync(f, constants.X_OK); return statSync(f).isFile(); } catch { return false; } };
  const override = env.RETINAD_ETCDCTL_BIN;
  if (override) {
    if (runnable(override)) return override;
    throw new Error(`RETINAD_ETCDCTL_BIN: ${override} is not an executable file`);
  }
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const f = path.join(dir, 'etcdctl');
    if (runnable(f)) return f;
  }
  throw new Error('etcdctl was not found on PATH: restoring an etcd snapshot needs it (`etcdctl snapshot restore`). '
    + "Install Debian's etcd-client package (apt-get install etcd-client), or set RETINAD_ETCDCTL_BIN to its path");
}

/** Where a file of the backup goes: results/<taskId>/<seq>-<writer>.json or data/<state file>. */
const placeOf = (parts: string[]): 'results' | 'data' | null =>
  parts[0] === 'results' && parts.length === 3 && unsafeSegment(parts[1]!) === null && isBodyFileName(parts[2]!) ? 'results'
    : parts[0] === 'data' && parts.length >= 2 && isStatePath(parts.slice(1)) ? 'data' : null;

/** Checks the snapshot's chunks (numbered from 0, no gap) against its size and SHA-256 in the meta table. */
function checkSnapshot(db: Database.Database, from: string, meta: Record<string, string>): number {
  const h = createHash('sha256');
  let bytes = 0;
  let n = 0;
  try {
    for (const r of db.prepare('SELECT n, data FROM backup_snapshot ORDER BY n').iterate() as Iterable<{ n: number; data: unknown }>) {
      if (r.n !== n++ || !Buffer.isBuffer(r.data)) throw new Error(`chunk ${n - 1} is missing or not bytes`);
      h.update(r.data);
      bytes += r.data.length;
    }
  } catch (err) {
    throw new Error(`--from: ${from}: its etcd snapshot is damaged (${(err as Error).message})`);
  }
  if (!bytes || String(bytes) !== meta['snapshot.bytes'] || h.digest('hex') !== meta['snapshot.sha256']) {
    throw new Error(`--from: ${from}: its etcd snapshot does not match its SHA-256 (or its size); the backup is damaged`);
  }
  return bytes;
}

/** Refuses a target that holds anything (a restore never overwrites), or one inside another. */
function checkTargets(targets: Array<[string, string]>): void {
  for (const [flag, dir] of targets) {
    if (!existsSync(dir)) continue;
    if (!statSync(dir).isDirectory() || readdirSync(dir).length) throw new Error(`${flag}: ${dir} is not empty; restore into a new directory (a restore never overwrites)`);
  }
  for (const [fa, a] of targets) {
    for (const [fb, b] of targets) {
      const rel = path.relative(path.resolve(b), path.resolve(a));
      if (fa !== fb && (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel)))) throw new Error(`${fa}: ${a} lies in ${fb} ${b}; give each its own directory`);
    }
  }
}

/** Runs etcdctl (v3 API, no ETCD*_ settings from the environment); its stderr in the error when it fails. */
function etcdctl(bin: string, args: string[], env: NodeJS.ProcessEnv): string {
  const clean = Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('ETCD')));
  const r = spawnSync(bin, args, { env: { ...clean, ETCDCTL_API: '3' }, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`etcdctl ${args.slice(0, 2).join(' ')} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`}): ${(r.stderr ?? '').trim().slice(-800)}`);
  return r.stdout;
}

/** Writes `files` (their first segment dropped) under `root`. */
function writeFiles(db: Database.Database, files: CheckedFile[], root: string): void {
  mkdirSync(root, { recursive: true });
  for (const f of files) {
    const rel = f.parts.slice(1);
    const abs = inside(root, rel);
    mkdirSync(path.dirname(abs), { recursive: true });
    writeFileSync(abs, fileData(db, f.path), { flag: 'wx', mode: rel.length === 1 && SECRET_STATE.includes(rel[0]!) ? 0o600 : 0o644 });
  }
}

/** Restores an etcd store backup into new directories; see the file's comment. */
export function restoreEtcdStore(o: EtcdRestoreOptions): EtcdRestoreSummary {
  const env = o.env ?? process.env;
  const name = o.etcdName ?? 'default';
  const peer = o.etcdPeerUrl ?? 'http://localhost:2380';
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw new Error(`--etcd-name: "${name}" is not 1–64 of A-Z a-z 0-9 . _ -`);
  if (!/^https?:\/\/[^/\s,=]+\/?$/.test(peer)) throw new Error(`--etcd-peer-url: "${peer}" is not an http(s)://host:port URL`);
  const db = openContainer(o.from);
  try {
    const meta = readMeta(db);
    checkFormat(meta, o.from, ETCD_FORMAT);
    const snapshotBytes = checkSnapshot(db, o.from, meta);
    // Paths come from the file: only result bodies and state files, never out of their directory.
    const files = checkFiles(db, o.from, (p) => placeOf(p) !== null, 'the results and a data directory');
    const results = files.filter((f) => placeOf(f.parts) === 'results');
    const data = files.filter((f) => placeOf(f.parts) === 'data');
    checkTargets([['--etcd-data-dir', o.etcdDataDir], ['--results', o.resultsDir], ...(o.dataDir !== undefined ? [['--data-dir', o.dataDir] as [string, string]] : [])]);
    const bin = findEtcdctl(env);

    // Checked: now the snapshot goes to a file beside the new etcd data directory, for etcdctl.
    const target = path.resolve(o.etcdDataDir);
    mkdirSync(path.dirname(target), { recursive: true });
    const snap = path.join(path.dirname(target), `.${path.basename(target)}.snapshot-${process.pid}.db`);
    let revision: number;
    try {
      const fd = openSync(snap, 'wx', 0o600);
      try {
        for (const r of db.prepare('SELECT data FROM backup_snapshot ORDER BY n').iterate() as Iterable<{ data: Buffer }>) writeSync(fd, r.data);
      } finally {
        closeSync(fd);
      }
      revision = Number((JSON.parse(etcdctl(bin, ['snapshot', 'status', snap, '-w', 'json'], env)) as { revision?: number }).revision);
      // etcdctl creates the directory itself (mode 0700, as etcd wants it) and refuses one that exists.
      if (existsSync(target)) rmdirSync(target);
      etcdctl(bin, ['snapshot', 'restore', snap, '--data-dir', target, '--name', name, '--initial-cluster', `${name}=${peer}`, '--initial-advertise-peer-urls', peer], env);
    } finally {
      rmSync(snap, { force: true });
    }
    writeFiles(db, results, o.resultsDir);
    if (o.dataDir !== undefined) writeFiles(db, data, o.dataDir);
    return {
      file: o.from, revision, snapshotBytes, results: results.length, resultBytes: results.reduce((n, f) => n + f.bytes, 0),
      dataFiles: o.dataDir !== undefined ? data.length : 0, dataSkipped: o.dataDir !== undefined ? 0 : data.length, etcdName: name, etcdPeerUrl: peer,
    };
  } finally {
    db.close();
  }
}
