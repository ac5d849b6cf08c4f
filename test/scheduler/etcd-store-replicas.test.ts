/**
 * Several scheduler replicas on one etcd (B3, issue 14): a follower's mirror follows the writer
 * through the watch (deletes too) and says what changed; a writer is not confused by the echo of
 * its own deletes; a leader fenced on its election key stores nothing once that key changed; two
 * unfenced writers with one dedup key store one result.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { EtcdStore, type Change } from '../../src/scheduler/etcd/index.ts';
import { ExecutionStatus, type CustomInfo, type TaskBasicInfo, type TaskDispatchInfo, type TaskResultBody } from '../../src/protocol/index.ts';
import { etcdMissing, startEtcd } from '../helpers/etcd.ts';
import { readAll } from '../helpers/store-ops.ts';

const log = pino({ level: 'silent' });
const basic = { TaskName: 'x' } as unknown as TaskBasicInfo;
const custom = { AlgID: 1 } as unknown as CustomInfo;
const body = (sub: string, i: number) => ({ TaskID: sub, DeviceID: 'd1', DstDeviceList: [], AlgID: 1, AlgVersion: '1.0', Ts: i, TaskResultData: { ImageResult: { ImageInfo: { Pts: i } } } }) as unknown as TaskResultBody;

/** Polls `cond` every 20 ms for up to `ms`; throws naming `what` when it never holds. */
async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('etcd store replicas', { skip: etcdMissing }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'retinad-etcd-replicas-'));
  const etcd = await startEtcd(dir);
  const client = new Etcd3({ hosts: etcd.endpoint });
  t.teardown(async () => { client.close(); await etcd.stop(); rmSync(dir, { recursive: true, force: true }); });
  let n = 0;
  /** Two stores on one new prefix, sharing the results directory. */
  const pair = async (t: Test) => {
    const o = { endpoints: [etcd.endpoint], prefix: `/replicas-${++n}/`, resultsDir: path.join(dir, `results-${n}`), log };
    const a = await EtcdStore.open(o);
    const b = await EtcdStore.open(o);
    t.teardown(async () => { await a.close(); await b.close(); });
    return { o, a, b };
  };
  /** The current etcd revision (after a durable() the writer's txn is at or below it). */
  const etcdRevision = async () => Number((await client.get('/nothing').exec()).header.revision);

  t.test('B3: a follower\'s mirror follows the writer through the watch, deletes included, and onChange names each change', async (t) => {
    const { a, b } = await pair(t);
    const seenByB: Change[] = [];
    const seenByA: Change[] = [];
    b.onChange((c) => seenByB.push(c));
    a.onChange((c) => seenByA.push(c));
    a.upsertDevice({ deviceId: 'd1', deviceType: '1', productType: 'p' }, 1000);
    a.insertTask('t1', basic, custom, ExecutionStatus.Queued, 'alice');
    a.insertSubtask({ subtaskId: 's1', taskId: 't1', deviceId: 'd1', dispatch: {} as TaskDispatchInfo, status: ExecutionStatus.Running });
    a.insertResult('t1', body('s1', 5), 'k1');
    a.setSubtaskStatus('s1', { status: ExecutionStatus.Paused, progress: 50 });
    await a.durable();
    await until(() => b.subtask('s1')?.status === ExecutionStatus.Paused && b.resultCount('t1') === 1, 'B sees the subtask paused and the result');
    t.strictSame(readAll(b), readAll(a), 'B reads what A reads');
    t.strictSame(b.results('t1', 0, 10).map((r) => r.body), [body('s1', 5)], 'the body comes from the shared results directory');
    t.equal(b.activeCount('d1'), 1);
    t.notOk(b.insertResult('t1', body('s1', 5), 'k1'), 'B knows the dedup key');
    for (const kind of ['device', 'task', 'subtask', 'result'] as const) t.ok(seenByB.some((c) => c.kind === kind && c.id === { device: 'd1', task: 't1', subtask: 's1', result: 't1' }[kind]), `onChange named the ${kind}`);
    t.strictSame(seenByA, [], 'a writer is not told of its own writes');
    t.ok(b.revision >= a.revision && b.revision > 0, 'B has applied a revision');

    a.deleteTask('t1');
    a.deleteDevice('d1');
    await a.durable();
    await until(() => !b.task('t1') && !b.device('d1'), 'B sees the deletes');
    t.strictSame(readAll(b), readAll(a), 'B reads what A reads after the deletes');
    t.equal(b.activeCount('d1'), 0);
    t.ok(seenByB.filter((c) => c.kind === 'result' && c.id === 't1').length >= 2, 'the result\'s deletion was named too');
  });

  t.test('B3: a writer skips the echo of its own delete, even after writing the key again', async (t) => {
    const { a } = await pair(t);
    a.insertTask('x', basic, custom, ExecutionStatus.Queued);
    await a.durable();
    for (let i = 0; i < 15; i++) {
      a.deleteTask('x');
      await a.durable();
      a.insertTask('x', basic, custom, ExecutionStatus.Queued);
      await a.durable();
      const rev = await etcdRevision();
      await until(() => a.revision >= rev, 'A applied its own echoes');
      t.ok(a.task('x'), `round ${i}: the task written again is still there`);
      if (!a.task('x')) break;
    }
    t.equal(a.statusHistory('x').length, 1, 'the history of the new task alone');
  });

  t.test('B3: once the election key changed, the fenced writer stores nothing more: durable() rejects and onFenced fires', async (t) => {
    const { o, a, b } = await pair(t);
    const fenceKey = `/election-${n}/leader`;
    await client.put(fenceKey).value('a');
    const createRevision = (await client.get(fenceKey).exec()).kvs[0]!.create_revision;
    const fenced: Error[] = [];
    a.onFenced((err) => fenced.push(err));
    a.setFence({ key: fenceKey, createRevision });
    a.upsertDevice({ deviceId: 'before', deviceType: '1', productType: 'p' }, 1);
    await a.durable();
    t.ok(await client.get(`${o.prefix}devices/before`).string(), 'a write under the fence commits');

    await client.delete().key(fenceKey); // another replica's term: the key is made anew
    await client.put(fenceKey).value('b');
    a.upsertDevice({ deviceId: 'after', deviceType: '1', productType: 'p' }, 2);
    const pending = a.durable();
    await t.rejects(pending, /leadership was lost/);
    t.equal(fenced.length, 1, 'onFenced fired once');
    t.match(a.fenced?.message ?? '', /leadership was lost/);
    a.upsertDevice({ deviceId: 'later', deviceType: '1', productType: 'p' }, 3);
    await t.rejects(a.durable(), /leadership was lost/, 'later writes reject at once');
    await new Promise((r) => setTimeout(r, 300));
    t.strictSame(await client.getAll().prefix(`${o.prefix}devices/`).keys(), [`${o.prefix}devices/before`], 'nothing after the fence broke is in etcd');
    t.equal(b.device('after'), undefined, 'nor in a follower');
    t.equal(fenced.length, 1);
  });

  t.test('B3: a deposed leader that has not learnt it yet cannot overwrite the body its successor stored under the same seq', async (t) => {
    const { a, b } = await pair(t);
    const fenceKey = `/election-${n}/leader`;
    await client.put(fenceKey).value('a');
    a.setFence({ key: fenceKey, createRevision: (await client.get(fenceKey).exec()).kvs[0]!.create_revision });
    await client.delete().key(fenceKey);
    await client.put(fenceKey).value('b');
    b.setFence({ key: fenceKey, createRevision: (await client.get(fenceKey).exec()).kvs[0]!.create_revision });
    // Both hand out the same seq: neither has seen the other's write.
    t.ok(b.insertResult('t', body('s', 1), null));
    t.ok(a.insertResult('t', body('s', 2), null));
    t.equal(a.results('t', 0, 5)[0]?.seq, b.results('t', 0, 5)[0]?.seq, 'one seq, two writers');
    await b.durable();
    await t.rejects(a.durable(), /leadership was lost/);
    t.strictSame(b.results('t', 0, 5).map((r) => r.body.Ts), [1], 'the new leader reads its own body');
    await until(() => a.results('t', 0, 5)[0]?.body.Ts === 1, 'the deposed one reads the new leader\'s result too');
  });

  t.test('B3: reload() reads the prefix again and applies the difference, as after the watch lost its place to a compaction', async (t) => {
    const { o, a, b } = await pair(t);
    const changes: Change[] = [];
    b.onChange((c) => changes.push(c));
    // A put B's watch skips: it carries B's writer id, as the echo of B's own write would.
    const ghost = { device_id: 'ghost', device_type: '1', product_type: 'p', device_name: null, command_url: null, longitude: null, latitude: null, online: 1, enabled: 1, registered_at: 5, last_seen: 5, total_resource: null, available_resource: null, alg_resource: null, alg_checked_at: 0 };
    const put = await client.put(`${o.prefix}devices/ghost`).value(JSON.stringify({ w: b.writerId, v: ghost })).exec();
    // A write B's mirror holds that etcd never got: B is fenced, so it is not sent.
    const fenceKey = `/election-${n}/b`;
    await client.put(fenceKey).value('b');
    b.setFence({ key: fenceKey, createRevision: (await client.get(fenceKey).exec()).kvs[0]!.create_revision });
    await client.delete().key(fenceKey);
    b.upsertDevice({ deviceId: 'unsent', deviceType: '1', productType: 'p' }, 6);
    await t.rejects(b.durable(), /leadership was lost/);
    const rev = Number(put.header.revision);
    await until(() => b.revision >= rev && a.device('ghost') !== undefined, 'both watches passed the ghost put');
    t.equal(b.device('ghost'), undefined, 'B\'s watch skipped it');
    await b.reload();
    t.strictSame(b.device('ghost'), ghost, 'the reload brought it');
    t.equal(b.device('unsent'), undefined, 'and dropped what etcd does not hold');
    t.strictSame(readAll(b), readAll(a), 'B reads what A reads');
    t.ok(changes.some((c) => c.id === 'ghost') && changes.some((c) => c.id === 'unsent'), 'onChange named both');
    a.upsertDevice({ deviceId: 'later', deviceType: '1', productType: 'p' }, 7);
    await until(() => b.device('later') !== undefined, 'B watches again after the reload');
  });

  t.test('B3: a follower whose watch must resume from a compacted revision reloads the prefix, then follows again', async (t) => {
    const own = await startEtcd(dir);
    const c = new Etcd3({ hosts: own.endpoint });
    const o = { endpoints: [own.endpoint], prefix: '/compacted/', resultsDir: path.join(dir, 'results-compacted'), log };
    const a = await EtcdStore.open(o);
    const b = await EtcdStore.open(o);
    t.teardown(async () => { await a.close(); await b.close(); c.close(); await own.stop(); });
    a.upsertDevice({ deviceId: 'one', deviceType: '1', productType: 'p' }, 1);
    await a.durable();
    await until(() => b.device('one') !== undefined, 'B follows A');
    // Something only a reload can bring: a put B's watch skips (it carries B's writer id).
    const ghost = { ...b.device('one')!, device_id: 'ghost' };
    const put = await c.put(`${o.prefix}devices/ghost`).value(JSON.stringify({ w: b.writerId, v: ghost })).exec();
    await until(() => b.revision >= Number(put.header.revision), 'B\'s watch passed the ghost put');
    t.equal(b.device('ghost'), undefined);
    // Revisions move on outside the prefix and are compacted: B's resume point is gone.
    for (let i = 0; i < 5; i++) await c.put(`/elsewhere/${i}`).value('x');
    await c.kv.compact({ revision: (await c.get('/elsewhere/0').exec()).header.revision, physical: true });
    await own.restart(); // every watch stream drops and must resume
    await until(() => b.device('ghost') !== undefined, 'B reloaded once etcd refused to resume its watch', 40_000);
    t.strictSame(b.device('ghost'), ghost);
    a.upsertDevice({ deviceId: 'two', deviceType: '1', productType: 'p' }, 2);
    await a.durable();
    await until(() => b.device('two') !== undefined, 'B follows A again', 40_000);
  });

  t.test('two unfenced writers with one dedup key: the txn compare keeps one result, both mirrors end with it', async (t) => {
    const { o, a, b } = await pair(t);
    t.ok(a.insertResult('t', body('s', 1), 'same'), 'A stores it (its mirror had no such key)');
    t.ok(b.insertResult('t', body('s', 2), 'same'), 'B too, before A\'s write could reach it');
    await Promise.all([a.durable(), b.durable()]);
    t.equal(await client.getAll().prefix(`${o.prefix}results/`).count(), 1, 'etcd holds one result');
    t.equal(readdirSync(path.join(o.resultsDir, 't')).length, 1, 'and the disk one body: the loser removed its own');
    await until(() => a.resultCount('t') === 1 && b.resultCount('t') === 1 && b.results('t', 0, 5)[0]?.body.Ts === a.results('t', 0, 5)[0]?.body.Ts, 'both mirrors hold the one that won');
    t.pass('the loser dropped its copy and took the winner\'s from the watch');
  });
});
