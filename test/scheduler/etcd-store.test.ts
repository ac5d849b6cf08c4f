/**
 * The etcd store on one real etcd (issue 14): what a reopen rebuilds (SB9), that a write is in
 * etcd once durable() resolves and that a burst shares txns, the bound on status events, paged
 * loading of 10,000 devices, and retries while etcd does not answer.
 */
import t from 'tap';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { EtcdStore, EVENTS_PER_TASK } from '../../src/scheduler/etcd/index.ts';
import { ExecutionStatus, type CustomInfo, type TaskBasicInfo, type TaskResultBody } from '../../src/protocol/index.ts';
import { etcdMissing, startEtcd } from '../helpers/etcd.ts';
import { FC_SEED } from '../helpers/seed.ts';
import { applyAll, opSequence, readAll } from '../helpers/store-ops.ts';

const log = pino({ level: 'silent' });
const basic = { TaskName: 'x' } as unknown as TaskBasicInfo;
const custom = { AlgID: 1 } as unknown as CustomInfo;
const body = (sub: string, i: number) => ({ TaskID: sub, DeviceID: 'd1', DstDeviceList: [], AlgID: 1, AlgVersion: '1.0', Ts: i, TaskResultData: { ImageResult: { ImageInfo: { Pts: i } } } }) as unknown as TaskResultBody;

t.test('etcd store', { skip: etcdMissing }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'retinad-etcd-store-'));
  const etcd = await startEtcd(dir);
  const client = new Etcd3({ hosts: etcd.endpoint });
  t.teardown(async () => { client.close(); await etcd.stop(); rmSync(dir, { recursive: true, force: true }); });
  let n = 0;
  const options = () => ({ endpoints: [etcd.endpoint], prefix: `/store-${++n}/`, resultsDir: path.join(dir, `results-${n}`), log });

  t.test('SB9: close and open again: every read is rebuilt from etcd alone', async (t) => {
    const o = options();
    const store = await EtcdStore.open(o);
    const [ops] = fc.sample(opSequence, { numRuns: 1, seed: FC_SEED });
    applyAll(store, [...ops!, { k: 'insertTask', id: 't1', status: 1, owner: null }, { k: 'insertResult', task: 't1', sub: 's1', dedup: 'k9', pts: 7, pad: 3, kind: 'image' }]);
    const before = readAll(store);
    await store.close();
    const again = await EtcdStore.open(o);
    t.strictSame(readAll(again), before);
    t.ok(again.resultCount('t1') >= 1, 'results come back, bodies from their files');
    t.notOk(again.insertResult('t1', body('s1', 1), 'k9'), 'a dedup key is known again after the reopen');
    await again.close();
  });

  t.test('SB9: a dedup key freed by deleteTask and used again in the same batch is stored (no compare can hold there)', async (t) => {
    const o = options();
    const store = await EtcdStore.open(o);
    store.insertResult('old', body('s', 1), 'k');
    await store.durable();
    store.batch(() => {
      store.deleteTask('old');
      t.ok(store.insertResult('new', body('s', 2), 'k'), 'the key is free again');
    });
    await store.durable();
    await store.close();
    const again = await EtcdStore.open(o);
    t.strictSame([again.resultCount('old'), again.resultCount('new')], [0, 1], 'etcd holds the new one (found by the contract test, seed 3)');
    await again.close();
  });

  t.test('SB9: durable(): a write is in etcd once it resolves; a burst of writes shares txns (group commit)', async (t) => {
    const o = options();
    const store = await EtcdStore.open(o);
    t.teardown(() => store.close());
    await store.durable(); // nothing queued: resolves at once
    store.upsertDevice({ deviceId: 'one', deviceType: '1', productType: 'p' }, 1000);
    await store.durable();
    const seen = JSON.parse((await client.get(`${o.prefix}devices/one`).string())!) as { w: string; v: { device_id: string; last_seen: number } };
    t.strictSame([seen.w, seen.v.device_id, seen.v.last_seen], [store.writerId, 'one', 1000], 'a separate client reads it, with the writer id');

    const txns = store.stats.txns;
    const waits: Array<Promise<void>> = [];
    for (let i = 0; i < 500; i++) {
      store.upsertDevice({ deviceId: `d${i}`, deviceType: '1', productType: 'p' }, 2000 + i);
      waits.push(store.durable());
    }
    // Writers that await between writes, as request handlers do.
    await Promise.all([...waits, ...Array.from({ length: 20 }, async (_, w) => {
      for (let k = 0; k < 5; k++) { store.touchDevice(`d${w}`, 10_000 + k); await store.durable(); }
    })]);
    const used = store.stats.txns - txns;
    t.ok(used < 600 / 4, `600 writes took ${used} txns`);
    t.equal(await client.getAll().prefix(`${o.prefix}devices/`).count(), 501, 'every device is in etcd');
    const d0 = JSON.parse((await client.get(`${o.prefix}devices/d0`).string())!) as { v: { last_seen: number } };
    t.equal(d0.v.last_seen, 10_004, 'the last write of a key is the one kept');
  });

  t.test('SB9: status events are bounded to the newest EVENTS_PER_TASK per task, in etcd and in the mirror', async (t) => {
    const o = options();
    const store = await EtcdStore.open(o);
    t.teardown(() => store.close());
    store.insertTask('busy', basic, custom, ExecutionStatus.Queued);
    for (let i = 0; i < 300; i++) store.setTaskStatus('busy', i % 2 ? ExecutionStatus.Running : ExecutionStatus.Paused);
    await store.durable();
    const history = store.statusHistory('busy');
    t.equal(history.length, EVENTS_PER_TASK);
    t.equal(history.at(-1)?.status, ExecutionStatus.Running, 'the newest is kept');
    t.equal(await client.getAll().prefix(`${o.prefix}events/busy/`).count(), EVENTS_PER_TASK, 'older ones are deleted from etcd');
    const again = await EtcdStore.open(o);
    t.strictSame(again.statusHistory('busy'), history);
    await again.close();
  });

  t.test('SB9: 10,000 devices and 3,000 results load through paged range reads', async (t) => {
    const o = options();
    const store = await EtcdStore.open(o);
    for (let i = 0; i < 10_000; i++) store.upsertDevice({ deviceId: `dev-${String(i).padStart(5, '0')}`, deviceType: '1', productType: 'p', deviceName: 'x'.repeat(200) }, i);
    for (const task of ['a', 'b', 'c']) {
      store.insertTask(task, basic, custom, ExecutionStatus.Running);
      for (let i = 0; i < 1000; i++) store.insertResult(task, body(`${task}-sub`, i), `${task}#${i}`);
    }
    await store.durable();
    t.ok(store.stats.txns < 300, `${store.stats.txns} txns for 13,003 writes`);
    await store.close();
    const again = await EtcdStore.open(o);
    t.teardown(() => again.close());
    t.equal(again.devices().length, 10_000);
    t.equal(again.devices()[9999]?.device_id, 'dev-09999', 'in device_id order');
    t.strictSame(['a', 'b', 'c'].map((x) => again.resultCount(x)), [1000, 1000, 1000]);
    const page = again.results('b', 0, 2000);
    t.equal(page.length, 1000);
    t.strictSame(page.map((r) => r.body.Ts), Array.from({ length: 1000 }, (_, i) => i), 'bodies read back in seq order');
    t.equal(again.resumeAfterMs('c-sub', 40), 999 + 40);
  });

  t.test('open() refuses a prefix that could range over another store\'s keys; durable() after close() rejects rather than wait forever', async (t) => {
    await t.rejects(EtcdStore.open({ ...options(), prefix: '/retinad' }), /must end with \//);
    await t.rejects(EtcdStore.open({ ...options(), prefix: '/' }), /must end with \//);
    const store = await EtcdStore.open({ ...options(), callTimeoutMs: 300, closeTimeoutMs: 200 });
    etcd.pause();
    try {
      store.upsertDevice({ deviceId: 'x', deviceType: '1', productType: 'p' }, 1);
      const pending = store.durable();
      await store.close();
      await t.rejects(pending, /closed before 1 queued write/);
      await t.rejects(store.durable(), /closed before/);
    } finally {
      etcd.resume();
    }
  });

  t.test('SB9: etcd not answering: commits are retried with backoff, in order, and land once it answers', async (t) => {
    const own = await startEtcd(dir);
    t.teardown(() => own.stop());
    const o = { ...options(), endpoints: [own.endpoint], callTimeoutMs: 300 };
    const store = await EtcdStore.open(o);
    t.teardown(() => store.close());
    own.pause();
    store.upsertDevice({ deviceId: 'x', deviceType: '1', productType: 'p' }, 1);
    const first = store.durable();
    await new Promise((r) => setTimeout(r, 200)); // the first txn is on its way (and stuck)
    store.setEnabled('x', false);
    store.touchDevice('x', 99);
    const last = store.durable();
    await new Promise((r) => setTimeout(r, 1500));
    t.ok(store.stats.retries > 0, `retried ${store.stats.retries} times while etcd was frozen`);
    own.resume();
    await Promise.all([first, last]);
    const c = new Etcd3({ hosts: own.endpoint });
    const row = JSON.parse((await c.get(`${o.prefix}devices/x`).string())!) as { v: unknown };
    c.close();
    t.strictSame(row.v, store.device('x'), 'etcd holds the last write');
    t.equal(store.device('x')?.enabled, 0);
  });
});
