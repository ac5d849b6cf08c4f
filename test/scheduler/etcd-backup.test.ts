/**
 * SB9: the etcd store's backup on a real etcd, while a writer keeps storing results. A body is
 * written before its index reaches etcd, and the backup copies the results only after etcd's
 * snapshot is complete: so every result the restored etcd indexes has its body, byte for byte,
 * and a body written after the snapshot (the afterSnapshot hook, deterministic) is copied too but
 * indexed by nothing, which is harmless. Restored etcd keeps its revisions.
 */
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { EtcdStore } from '../../src/scheduler/etcd/index.ts';
import { backupEtcdStore } from '../../src/scheduler/etcd/backup.ts';
import { restoreEtcdStore } from '../../src/scheduler/etcd/restore.ts';
import type { TaskResultBody } from '../../src/protocol/index.ts';
import { etcdctlMissing, etcdMissing, startEtcd } from '../helpers/etcd.ts';

const log = pino({ level: 'silent' });
const body = (sub: string, i: number) => ({ TaskID: sub, DeviceID: 'd1', DstDeviceList: [], AlgID: 1, AlgVersion: '1.0', Ts: i, TaskResultData: { ImageResult: { ImageInfo: { Pts: i } } } }) as unknown as TaskResultBody;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('SB9: a backup taken while results are written: every indexed result has its body after the restore', { skip: etcdMissing || etcdctlMissing }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'retinad-etcd-backup-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const etcd = await startEtcd(path.join(dir, 'etcd'));
  t.teardown(() => etcd.stop());
  const results = path.join(dir, 'results');
  const store = await EtcdStore.open({ endpoints: [etcd.endpoint], resultsDir: results, log });
  t.teardown(() => store.close());
  for (let i = 0; i < 20; i++) store.insertResult('t1', body('s1', i), `k${i}`);
  await store.durable();

  // A writer that does not stop for the backup, as a leader does not.
  let writing = true;
  const writer = (async () => {
    for (let i = 100; writing; i++) {
      store.insertResult('t1', body('s1', i), `k${i}`);
      await store.durable();
      await sleep(1);
    }
  })();
  const out = path.join(dir, 'store.backup');
  let afterSnapshot = false;
  const summary = await backupEtcdStore({
    endpoints: [etcd.endpoint], resultsDir: results, out,
    afterSnapshot: async () => {
      store.insertResult('t2', body('s2', 999), null); // body on disk, index in etcd: after the snapshot
      await store.durable();
      afterSnapshot = true;
    },
  });
  writing = false;
  await writer;
  t.ok(afterSnapshot, 'a result was stored between the snapshot and the copy of the results');
  t.ok(summary.revision > 1 && summary.snapshotBytes > 0 && summary.results > 20, `backup: ${JSON.stringify(summary)}`);
  const written = store.resultCount('t1');
  await store.close();
  await etcd.stop();

  const restored = { etcd: path.join(dir, 'new', 'etcd'), results: path.join(dir, 'new', 'results') };
  const r = restoreEtcdStore({ from: out, etcdDataDir: restored.etcd, resultsDir: restored.results });
  t.ok(r.revision >= summary.revision, `the snapshot's revision ${r.revision} is at least the backup's ${summary.revision} (etcd 3.4 sends no header: a lower bound)`);
  t.equal(r.results, summary.results, 'every body file came back');

  const again = await startEtcd(path.join(dir, 'new'), 20_000, { dataDir: restored.etcd });
  t.teardown(() => again.stop());
  const client = new Etcd3({ hosts: again.endpoint });
  t.teardown(() => client.close());
  const rev = Number((await client.kv.range({ key: Buffer.from('/retinad/meta/counters') })).header.revision);
  t.equal(rev, r.revision, 'the restored etcd carries on at the snapshot\'s revision');
  const index = Object.values(await client.getAll().prefix('/retinad/results/').json()) as Array<{ v: { task_id: string; seq: number; writer: string } }>;
  t.ok(index.length >= 20 && index.length <= written, `${index.length} results indexed by the snapshot (${written} written in all)`);
  const missing = index.filter(({ v }) => !existsSync(path.join(restored.results, v.task_id, `${v.seq}-${v.writer}.json`)));
  t.strictSame(missing, [], 'every indexed result has its body');
  const same = index.every(({ v }) => readFileSync(path.join(restored.results, v.task_id, `${v.seq}-${v.writer}.json`)).equals(readFileSync(path.join(results, v.task_id, `${v.seq}-${v.writer}.json`))));
  t.ok(same, 'byte for byte');
  t.notOk(index.some(({ v }) => v.task_id === 't2'), 'the result stored after the snapshot is not indexed');
  // Deterministic proof of the order: this body was written after the snapshot was complete, so
  // the results were copied after it; copied before, a result written in between would be indexed without its body.
  t.ok(existsSync(path.join(restored.results, 't2')), 'its body was copied all the same (harmless: nothing reads it)');

  // The store itself, on the restored etcd and results: every indexed result reads with its body.
  const reopened = await EtcdStore.open({ endpoints: [again.endpoint], resultsDir: restored.results, log });
  t.teardown(() => reopened.close());
  t.equal(reopened.results('t1', 0, 100_000).length, index.length, 'the restored store reads every result');
  t.equal(reopened.resultCount('t2'), 0);
});

t.test('SB9: backups that cannot be taken say why', { skip: etcdMissing }, async (t) => {
  const dir = t.testdir({ results: {} });
  const etcd = await startEtcd(path.join(dir, 'etcd'));
  t.teardown(() => etcd.stop());
  const out = path.join(dir, 'x.backup');
  await t.rejects(backupEtcdStore({ endpoints: [etcd.endpoint], resultsDir: path.join(dir, 'results'), out }), /holds no keys under \/retinad\/: no scheduler replicas' state to back up/);
  await t.rejects(backupEtcdStore({ endpoints: [etcd.endpoint], resultsDir: path.join(dir, 'nowhere'), out }), /--results: .*nowhere is not a directory/);
  await t.rejects(backupEtcdStore({ endpoints: [etcd.endpoint], resultsDir: path.join(dir, 'results'), dataDir: path.join(dir, 'nodata'), out }), /--data-dir: .*nodata is not a directory/);
  t.notOk(existsSync(out) || existsSync(`${out}.tmp-${process.pid}`), 'no file left behind');
});
