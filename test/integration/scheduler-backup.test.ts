/**
 * SB9, fast recovery after a fault: `retinad scheduler backup` takes one consistent file from a
 * scheduler while it runs; the scheduler's machine is lost (SIGKILL, data directory gone from
 * use); `retinad scheduler restore` into a new directory and a scheduler started there on the
 * same address knows the finished task and its results, serves the published package, keeps
 * the NotifyURL signing secret, and the executor carries on with it. A damaged or foreign file,
 * a tampered package inside it, a path that leads out, or a directory that already holds state
 * are refused with a clear message before anything is written.
 */
import t from 'tap';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, truncateSync, copyFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { waitFor, waitTaskEnd } from '../helpers/cluster.ts';
import { buildExamples, example, publish, startExampleCluster } from '../helpers/examples.ts';
import { retinad } from '../helpers/entry.ts';
import { clip } from '../helpers/media.ts';
import { startRole } from '../../src/child-role.ts';

const cli = (...args: string[]) => spawnSync(process.execPath, [...retinad, ...args], { encoding: 'utf8' });

t.test('SB9: backup while running, lose the machine, restore elsewhere: tasks, results, packages and secrets come back', async (t) => {
  t.equal(buildExamples(), 0, 'example plugins built');
  const dir = t.testdir({});
  const cluster = await startExampleCluster(dir, 1);
  let replaced = false;
  t.teardown(async () => { if (!replaced) await cluster.stop(); });
  t.equal(publish(cluster, example('text_recognition-1.0.0')).status, 0, 'a package published to the repository');
  const video = clip(path.join(dir, 'v.mp4'), { seconds: 2 });
  const r = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, {
    TaskName: 'before the backup', TaskType: 1, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: `file://${video}` }], AlgType: 'frame_extraction', TaskFrameRate: 2 } },
  });
  const id = (r.body as { TaskID: string }).TaskID;
  t.ok(id, `accepted ${JSON.stringify(r.body).slice(0, 120)}`);
  t.equal((await waitTaskEnd(cluster, id, 60_000)).ExecutionStatus, 0, 'done');
  const results = async (base: string) => ((await cluster.client.send('GET', `${base}/System/TaskResult/${id}?limit=500`)).body as { TaskResultList?: unknown[] }).TaskResultList?.length ?? -1;
  const stored = await results(cluster.scheduler.url);
  t.equal(stored, 4, '2 s at 2 fps: 4 results stored');

  const sdir = path.join(dir, 'scheduler');
  const file = path.join(dir, 'state.backup');
  const b = cli('scheduler', 'backup', '--data-dir', sdir, '--out', file);
  t.equal(b.status, 0, `backup while the scheduler runs: ${b.stderr}`);
  t.match(b.stdout, /^backup .*state\.backup: 1 tasks, 1 devices, \d+ files \(\d+ bytes\)/);

  // The machine is lost.
  const port = new URL(cluster.scheduler.url).port;
  const gone = new Promise((res) => cluster.scheduler.child.once('exit', res));
  cluster.scheduler.child.kill('SIGKILL');
  await gone;
  const ndir = path.join(dir, 'replacement');
  const rs = cli('scheduler', 'restore', '--data-dir', ndir, '--from', file);
  t.equal(rs.status, 0, `restored: ${rs.stderr}`);
  t.match(rs.stdout, /^restored .*: 1 tasks, 1 devices/);
  t.same(readFileSync(path.join(ndir, 'notify.secret')), readFileSync(path.join(sdir, 'notify.secret')), 'the NotifyURL signing secret came back (keys handed to initiators still verify)');

  const again = await startRole(['scheduler', '--listen', `127.0.0.1:${port}`, '--data-dir', ndir, '--keepalive', '1', '--allow-private-urls', '--trusted-keys', path.join(path.dirname(example('x')), 'keys')],
    { env: { RETINAD_TOKEN: cluster.token }, logFile: path.join(dir, 'replacement.log') });
  replaced = true;
  t.teardown(async () => { await Promise.all(cluster.executors.map((e) => e.stop(3000))); await again.stop(3000); await cluster.client.close(); });
  const info = await cluster.client.send('GET', `${again.url}/System/TaskInfo/${id}`);
  t.equal((info.body as { TaskInfo?: { ExecutionStatus?: number } }).TaskInfo?.ExecutionStatus, 0, 'the restored scheduler knows the finished task');
  t.equal(await results(again.url), stored, 'with every result');
  const pkg = await fetch(`${again.url}/System/AlgorithmRepository/2101/1.0.0.rpk`, { headers: { authorization: `Bearer ${cluster.token}` } });
  t.equal(pkg.status, 200, 'the published package is served again');
  t.same(Buffer.from(await pkg.arrayBuffer()), readFileSync(example('text_recognition-1.0.0')), 'byte for byte');
  await waitFor('the executor registered with the replacement', async () => {
    const d = await cluster.client.send('GET', `${again.url}/System/DeviceList?online=1`);
    return ((d.body as { DeviceList?: unknown[] }).DeviceList?.length ?? 0) >= 1 ? true : undefined;
  }, 30_000);
  const next = await cluster.client.send('POST', `${again.url}/System/TaskRequest/`, {
    TaskName: 'after the restore', TaskType: 1, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: `file://${video}` }], AlgType: 'frame_extraction', TaskFrameRate: 2 } },
  });
  const id2 = (next.body as { TaskID: string }).TaskID;
  t.equal((await waitTaskEnd({ ...cluster, scheduler: again }, id2, 60_000)).ExecutionStatus, 0, 'and runs new work');

  // Refusals, each before anything is written.
  const refused = (from: string, into: string) => { const x = cli('scheduler', 'restore', '--data-dir', into, '--from', from); return `${x.status}: ${x.stderr.trim()}`; };
  t.match(refused(file, ndir), /^1: retinad: --data-dir: .* already holds scheduler state; restore into an empty directory/);
  const cut = path.join(dir, 'cut.backup');
  copyFileSync(file, cut);
  truncateSync(cut, 4096);
  t.match(refused(cut, path.join(dir, 'r1')), /^1: retinad: --from: .*cut\.backup is not a usable backup/);
  t.notOk(existsSync(path.join(dir, 'r1', 'scheduler.db')), 'nothing written');
  const plain = path.join(dir, 'plain.db');
  new Database(plain).exec('CREATE TABLE x (a)');
  t.match(refused(plain, path.join(dir, 'r2')), /not a retinad scheduler backup \(format missing/);
  const tampered = path.join(dir, 'tampered.backup');
  copyFileSync(file, tampered);
  const db = new Database(tampered);
  db.prepare("UPDATE backup_files SET data = x'00' WHERE path LIKE 'repository/%.rpk'").run();
  db.close();
  t.match(refused(tampered, path.join(dir, 'r3')), /does not match its SHA-256; the backup is damaged/);
  const escape = path.join(dir, 'escape.backup');
  copyFileSync(file, escape);
  const db2 = new Database(escape);
  db2.prepare("INSERT INTO backup_files (path, sha256, data) VALUES ('repository/../../../evil', 'x', x'00')").run();
  db2.close();
  t.match(refused(escape, path.join(dir, 'r4')), /names a file outside a scheduler's state/);
  t.notOk(existsSync(path.join(dir, 'evil')), 'nothing written outside');
  t.match(cli('scheduler', 'backup', '--data-dir', path.join(dir, 'nowhere'), '--out', path.join(dir, 'x.backup')).stderr, /holds no scheduler\.db: nothing to back up/);
});
