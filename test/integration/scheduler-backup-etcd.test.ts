/**
 * SB9 for scheduler replicas on etcd (issue 14): `retinad scheduler backup --store etcd://…`
 * takes etcd's snapshot, the result files and the replica's state files while the replica runs.
 * Everything is then stopped (etcd, replica, executor); `retinad scheduler restore` writes a new
 * etcd data directory (etcdctl snapshot restore), results directory and data directory; a new
 * etcd on the restored directory and a new replica on it serve the same TaskInfo and every
 * TaskResult, bodies included. Revisions carry on from the snapshot, so the first leader after
 * the restore has an epoch above the one before (executors that remember the old epoch accept it).
 */
import t from 'tap';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { startReplicas } from '../helpers/replicas.ts';
import { slowSource } from '../helpers/slow-source.ts';
import { waitFor } from '../helpers/cluster.ts';
import { etcdctlMissing, etcdMissing, startEtcd } from '../helpers/etcd.ts';
import { retinad } from '../helpers/entry.ts';
import { startRole } from '../../src/child-role.ts';
import { RetinaClient } from '../../src/net/client.ts';
import type { TaskInfo, TaskResultBody } from '../../src/protocol/index.ts';

const cli = (...args: string[]) => spawnSync(process.execPath, [...retinad, ...args], { encoding: 'utf8' });
const info = async (c: RetinaClient, url: string, id: string) =>
  ((await c.send('GET', `${url}/System/TaskInfo/${id}`)).body as { TaskInfo?: TaskInfo }).TaskInfo;
const results = async (c: RetinaClient, url: string, id: string) =>
  ((await c.send('GET', `${url}/System/TaskResult/${id}?limit=500`)).body as { TaskResultList?: TaskResultBody[] }).TaskResultList ?? [];
/** The epoch of the replica at `url` once it leads (a follower's replies carry none). */
const epochOf = (c: RetinaClient, url: string) => waitFor(`${url} to lead`, async () => {
  const r = await c.send('GET', `${url}/System/DeviceList`).catch(() => undefined);
  const e = r?.status === 200 ? r.headers['x-retinad-epoch'] : undefined;
  return typeof e === 'string' ? BigInt(e) : undefined;
}, 30_000, 200);

t.test('SB9: backup of a replica on etcd while it runs, everything stopped, restored into new directories: the same TaskInfo and every TaskResult', { skip: etcdMissing || etcdctlMissing }, async (t) => {
  const dir = t.testdir({});
  const before = path.join(dir, 'before');
  const r = await startReplicas(before, { replicas: 1, executors: 1, leaseTtlSec: 3 });
  let stopped = false;
  t.teardown(async () => { if (!stopped) await r.stop(); });
  const leader = await r.leader();
  const epochBefore = await epochOf(r.client, leader.url);
  const src = await slowSource(path.join(dir, 'a.ts'), 3);
  t.teardown(() => src.close());
  const res = await r.client.send('POST', `${leader.url}/System/TaskRequest/`, {
    TaskName: 'before the backup', TaskType: 1, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: src.url }], AlgType: 'frame_extraction', TaskFrameRate: 2 } },
  });
  const id = (res.body as { TaskID?: string }).TaskID;
  if (!id) throw new Error(`refused: ${JSON.stringify(res.body)}`);
  const end = await waitFor('the task to end', async () => {
    const ti = await info(r.client, leader.url, id).catch(() => undefined);
    return ti && (ti.ExecutionStatus === 0 || ti.ExecutionStatus === 4) ? ti : undefined;
  }, 60_000, 250);
  t.equal(end.ExecutionStatus, 0, 'the task ran to the end');
  const infoBefore = await info(r.client, leader.url, id);
  const resultsBefore = await results(r.client, leader.url, id);
  t.equal(resultsBefore.length, 20, 'a 10 s clip at 2 fps: 20 results');

  const file = path.join(dir, 'replicas.backup');
  const b = cli('scheduler', 'backup', '--store', r.etcdUrl, '--results', path.join(before, 'results'), '--data-dir', path.join(before, 'scheduler-1'), '--out', file);
  t.equal(b.status, 0, `backup while the replica runs: ${b.stderr}`);
  t.match(b.stdout, /^backup .*replicas\.backup: etcd snapshot at revision (>= )?\d+ \(\d+ keys, \d+ bytes\), 20 result files \(\d+ bytes\), [1-9]\d* data-dir files/);
  t.ok(leader.child.exitCode === null && leader.child.signalCode === null, 'the replica kept running');
  t.ok((await info(r.client, leader.url, id))?.TaskID === id, 'and answering');

  // Everything is lost: etcd, the replica, the executor, their directories set aside.
  stopped = true;
  await r.stop();

  const after = path.join(dir, 'after');
  const target = ['--etcd-data-dir', path.join(after, 'etcd'), '--results', path.join(after, 'results'), '--data-dir', path.join(after, 'scheduler-1')];
  const rs = cli('scheduler', 'restore', '--from', file, ...target);
  t.equal(rs.status, 0, `restored: ${rs.stderr}`);
  t.match(rs.stdout, /^restored .*replicas\.backup: etcd snapshot at revision \d+ \(\d+ bytes\) into .*etcd \(member default, peer URL http:\/\/localhost:2380\), 20 result files/);
  t.match(rs.stdout, /\nnext: etcd --name default --data-dir /);
  t.same(readFileSync(path.join(after, 'scheduler-1', 'notify.secret')), readFileSync(path.join(before, 'scheduler-1', 'notify.secret')), 'the NotifyURL signing secret came back');
  t.strictSame(readdirSync(path.join(after, 'results', id)).sort(), readdirSync(path.join(before, 'results', id)).sort(), 'the result files came back');
  const again = cli('scheduler', 'restore', '--from', file, ...target);
  t.match(`${again.status}: ${again.stderr}`, /^1: retinad: --etcd-data-dir: .* is not empty; restore into a new directory \(a restore never overwrites\)/, 'a second restore into the same directories is refused');

  const etcd = await startEtcd(after, 20_000, { dataDir: path.join(after, 'etcd') });
  t.teardown(() => etcd.stop());
  const replica = await startRole(['scheduler', '--listen', '127.0.0.1:0', '--data-dir', path.join(after, 'scheduler-1'), '--keepalive', '1', '--allow-private-urls',
    '--store', `etcd://${new URL(etcd.endpoint).host}`, '--results', path.join(after, 'results'), '--lease-ttl', '3'],
  { env: { RETINAD_TOKEN: r.token, RETINAD_SKIP_SELF_BENCH: '1' }, logFile: path.join(after, 'scheduler-1.log') });
  t.teardown(() => replica.stop(3000));
  const client = new RetinaClient({ token: r.token, senderId: 'test-initiator' });
  t.teardown(() => client.close());
  // The old leader's election key came back with its lease: the new replica leads once it runs out.
  const epochAfter = await epochOf(client, replica.url);
  t.ok(epochAfter > epochBefore, `the first leader after the restore has epoch ${epochAfter}, above ${epochBefore} before (revisions carried on)`);
  const revision = BigInt(/etcd snapshot at revision (\d+)/.exec(rs.stdout)?.[1] ?? '0');
  t.ok(epochAfter > revision && revision > 0n, `and above the snapshot's revision ${revision}`);
  t.strictSame(await info(client, replica.url, id), infoBefore, 'TaskInfo as before');
  t.strictSame(await results(client, replica.url, id), resultsBefore, 'every TaskResult as before, bodies included');
});

t.test('SB9: the etcd backup\'s flags are checked by name', async (t) => {
  const dir = t.testdir({});
  const run = (...a: string[]) => { const x = cli('scheduler', ...a); return `${x.status}: ${x.stderr.trim().split('\n')[0]}`; };
  t.match(run('backup', '--store', 'etcd://127.0.0.1:1', '--out', path.join(dir, 'x')), /^1: retinad: --results: the replicas' results directory is required with --store/);
  t.match(run('backup', '--data-dir', dir, '--results', dir, '--out', path.join(dir, 'x')), /^1: retinad: --results: only with --store etcd:\/\//);
  t.match(run('restore', '--from', path.join(dir, 'x'), '--etcd-data-dir', path.join(dir, 'e')), /^1: retinad: --results: the new results directory is required with --etcd-data-dir/);
  t.match(run('backup', '--store', 'etcd://nope', '--results', dir, '--out', path.join(dir, 'x')), /^2: retinad: --store: "etcd:\/\/nope" is not etcd:\/\/host:port/);
  t.match(run('--listen', '127.0.0.1:0', '--data-dir', dir, '--etcd-data-dir', dir), /^2: retinad: --etcd-data-dir: only for `retinad scheduler restore`/);
});
