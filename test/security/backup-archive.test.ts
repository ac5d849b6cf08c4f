/**
 * SB9: a backup of the etcd store comes from a file that may be damaged or hostile. Before a
 * restore writes anything it checks the container, the snapshot's chunks and SHA-256, every
 * file's path and SHA-256, the targets, and that etcdctl is there; what it refuses leaves no
 * trace: no target directory, no file outside them, no temporary snapshot. Archives here are
 * made by hand with the container code (no etcd needed, except for the last test).
 */
import t from 'tap';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { createContainer, ETCD_FORMAT, sha256, SQLITE_FORMAT } from '../../src/scheduler/backup-archive.ts';
import { restoreEtcdStore, findEtcdctl } from '../../src/scheduler/etcd/restore.ts';
import { restoreScheduler } from '../../src/scheduler/backup.ts';
import { bodyFiles } from '../../src/scheduler/etcd/backup.ts';
import { etcdctlMissing } from '../helpers/etcd.ts';

/** A snapshot-shaped blob: bytes, then their SHA-256 (as etcd streams it); not a real bolt database. */
const fakeSnapshot = (n = 5000) => { const b = Buffer.alloc(n, 7); return Buffer.concat([b, createHash('sha256').update(b).digest()]); };

interface Archive { format?: string; snapshot?: Buffer[]; files?: Record<string, Buffer>; meta?: Record<string, string>; sql?: string }
function archive(file: string, a: Archive = {}): string {
  const chunks = a.snapshot ?? [fakeSnapshot()];
  const all = Buffer.concat(chunks);
  const db = new Database(file);
  createContainer(db, a.format ?? ETCD_FORMAT, { 'snapshot.sha256': sha256(all), 'snapshot.bytes': String(all.length), ...a.meta });
  db.exec('CREATE TABLE backup_snapshot (n INTEGER PRIMARY KEY, data BLOB NOT NULL)');
  chunks.forEach((c, i) => db.prepare('INSERT INTO backup_snapshot (n, data) VALUES (?, ?)').run(i, c));
  const files = a.files ?? { 'results/task-1/1-w1.json': Buffer.from('{"a":1}'), 'data/notify.secret': Buffer.from('s') };
  for (const [p, d] of Object.entries(files)) db.prepare('INSERT INTO backup_files (path, sha256, data) VALUES (?, ?, ?)').run(p, sha256(d), d);
  if (a.sql) db.exec(a.sql);
  db.close();
  return file;
}

t.test('SB9: hostile or damaged etcd backups are refused before anything is written', async (t) => {
  const dir = t.testdir({});
  let k = 0;
  /** Restores `from` into fresh targets under `dir`; the message, and what exists afterwards. */
  const restore = (from: string, o: { env?: NodeJS.ProcessEnv; dataDir?: boolean } = {}) => {
    const base = path.join(dir, `r${++k}`);
    mkdirSync(base);
    let msg = 'restored';
    try {
      restoreEtcdStore({ from, etcdDataDir: path.join(base, 'etcd'), resultsDir: path.join(base, 'results'), dataDir: o.dataDir === false ? undefined : path.join(base, 'data'), env: o.env ?? { PATH: '' } });
    } catch (err) {
      msg = (err as Error).message;
    }
    return { msg, left: readdirSync(base) };
  };
  const good = archive(path.join(dir, 'good.backup'));

  // A sound archive passes every check and stops at the missing etcdctl: still nothing written.
  const noCtl = restore(good);
  t.match(noCtl.msg, /etcdctl was not found on PATH: .*etcd-client .*RETINAD_ETCDCTL_BIN/, 'etcdctl missing: the message names the Debian package');
  t.strictSame(noCtl.left, [], 'nothing written, no temporary snapshot');
  t.match(restore(good, { env: { PATH: '', RETINAD_ETCDCTL_BIN: path.join(dir, 'nowhere') } }).msg, /RETINAD_ETCDCTL_BIN: .*nowhere is not an executable file/);
  t.throws(() => findEtcdctl({ PATH: dir }), /etcd-client/, 'a PATH without it');

  const hostile = [
    '../evil.json', '/etc/passwd', 'results/../evil.json', 'results/t/../../evil.json', 'results/../../1-w.json', 'results/t/sub/1-w.json',
    'results/t/evil.sh', 'results/t/1-w.json.123.tmp', 'results/./1-w.json', 'results//1-w.json', 'results/t\\..\\..\\x/1-w.json', 'results/..',
    `results/${'x'.repeat(129)}/1-w.json`, 'results/t/1-.hidden.json', 'results/t/1-w.json\u0000x', 'results/t\nx/1-w.json',
    'data/../evil', 'data/other.txt', 'data/repository/../../evil', 'data', 'data/', 'data/scheduler.db', 'etcd/member/snap/db', 'evil',
  ];
  for (const [i, p] of hostile.entries()) {
    const r = restore(archive(path.join(dir, `hostile-${i}.backup`), { files: { 'results/task-1/1-w1.json': Buffer.from('{}'), [p]: Buffer.from('x') } }));
    t.match(r.msg, /names a file outside the results and a data directory/, `refused: ${JSON.stringify(p)}`);
    t.strictSame(r.left, [], 'nothing written');
  }
  t.notOk(existsSync(path.join(dir, 'evil.json')) || existsSync(path.join(dir, 'evil')) || existsSync('/evil.json'), 'nothing outside either');

  const bad: Array<[string, Archive, RegExp]> = [
    ['a result body changed', { sql: "UPDATE backup_files SET data = x'00' WHERE path LIKE 'results/%'" }, /results\/task-1\/1-w1\.json does not match its SHA-256; the backup is damaged/],
    ['a state file changed', { sql: "UPDATE backup_files SET sha256 = 'x' WHERE path = 'data/notify.secret'" }, /notify\.secret does not match its SHA-256/],
    ['a snapshot chunk changed', { sql: "UPDATE backup_snapshot SET data = x'0000' WHERE n = 0" }, /etcd snapshot does not match its SHA-256/],
    ['a snapshot chunk missing', { snapshot: [fakeSnapshot(), fakeSnapshot()], sql: 'DELETE FROM backup_snapshot WHERE n = 0' }, /etcd snapshot is damaged \(chunk 0 is missing/],
    ['no snapshot at all', { sql: 'DROP TABLE backup_snapshot' }, /etcd snapshot is damaged/],
    ['an empty snapshot', { snapshot: [Buffer.alloc(0)] }, /etcd snapshot does not match its SHA-256 \(or its size\)/],
    ['the snapshot size wrong', { meta: { 'snapshot.bytes': '1' } }, /does not match its SHA-256 \(or its size\)/],
    ['a backup of the SQLite store', { format: SQLITE_FORMAT }, /is a backup of the SQLite store: restore it with --data-dir NEWDIR alone/],
    ['another format', { format: 'something/9' }, /is not a retinad scheduler backup \(format something\/9, expected retinad-scheduler-etcd-backup\/1\)/],
    ['no meta', { sql: 'DROP TABLE backup_meta' }, /\(format missing/],
  ];
  for (const [i, [what, a, re]] of bad.entries()) {
    const r = restore(archive(path.join(dir, `bad-${i}.backup`), a));
    t.match(r.msg, re, what);
    t.strictSame(r.left, [], `${what}: nothing written`);
  }
  const cut = archive(path.join(dir, 'cut.backup'), { snapshot: [fakeSnapshot(200_000)] });
  truncateSync(cut, 8192);
  t.match(restore(cut).msg, /cut\.backup is not a usable backup/, 'a cut file');
  writeFileSync(path.join(dir, 'text.backup'), 'not sqlite at all, but long enough to look at '.repeat(20));
  t.match(restore(path.join(dir, 'text.backup')).msg, /is not a usable backup/, 'not SQLite');
  t.match(restore(path.join(dir, 'missing.backup')).msg, /missing\.backup does not exist/);
  t.throws(() => restoreScheduler(good, path.join(dir, 'sqlite-target')), /is a backup of the etcd store: restore it with --etcd-data-dir NEWDIR --results NEWDIR/, 'the SQLite restore names the other kind');
  t.notOk(existsSync(path.join(dir, 'sqlite-target', 'scheduler.db')));

  // Targets: never one that holds anything, never one inside another.
  const targets = (etcd: string, results: string, data?: string) => {
    try {
      restoreEtcdStore({ from: good, etcdDataDir: etcd, resultsDir: results, dataDir: data, env: { PATH: '' } });
      return 'restored';
    } catch (err) { return (err as Error).message; }
  };
  const full = path.join(dir, 'full');
  mkdirSync(full);
  writeFileSync(path.join(full, 'x'), 'x');
  const empty = (n: string) => { const p = path.join(dir, n); mkdirSync(p); return p; };
  t.match(targets(full, path.join(dir, 'nr1')), /^--etcd-data-dir: .*full is not empty; restore into a new directory \(a restore never overwrites\)/);
  t.match(targets(path.join(dir, 'ne2'), full), /^--results: .*full is not empty/);
  t.match(targets(path.join(dir, 'ne3'), path.join(dir, 'nr3'), full), /^--data-dir: .*full is not empty/);
  t.match(targets(path.join(full, 'x'), path.join(dir, 'nr4')), /^--etcd-data-dir: .*x is not empty/, 'a file is no target');
  t.match(targets(empty('e5'), path.join(dir, 'e5', 'results')), /^--results: .*e5\/results lies in --etcd-data-dir/);
  t.match(targets(path.join(dir, 'e6', 'etcd'), path.join(dir, 'e6')), /^--etcd-data-dir: .*e6\/etcd lies in --results/);
  t.match(targets(path.join(dir, 'e7a'), path.join(dir, 'e7b'), path.join(dir, 'e7a')), /lies in/, 'the same directory twice');
  t.match(targets(empty('e8a'), empty('e8b'), empty('e8c')), /etcdctl was not found/, 'empty directories are fine targets');
  t.notOk(existsSync(path.join(full, 'x', 'member')), 'nothing written into a refused target');
});

t.test('SB9: what etcdctl refuses (a snapshot that is not etcd\'s) stops the restore before the results are written', { skip: etcdctlMissing }, async (t) => {
  const dir = t.testdir({});
  const from = archive(path.join(dir, 'fake.backup'));
  t.throws(() => restoreEtcdStore({ from, etcdDataDir: path.join(dir, 'etcd'), resultsDir: path.join(dir, 'results') }), /etcdctl snapshot status failed/);
  t.strictSame(readdirSync(dir), ['fake.backup'], 'no results, no etcd data directory, no temporary snapshot');
});

t.test('SB9: the backup copies only body files, never temporary ones or other names', async (t) => {
  const dir = t.testdir({ t1: { '1-w.json': '{}', '2-w.json.77.tmp': '{', 'notes.txt': 'x', sub: { '3-w.json': '{}' } }, '..x': { '4-w.json': '{}' }, 'file.json': '{}' });
  t.strictSame(bodyFiles(dir).sort(), [path.join('..x', '4-w.json'), path.join('t1', '1-w.json')]);
});
