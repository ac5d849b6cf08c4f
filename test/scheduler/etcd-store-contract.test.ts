/**
 * The etcd store answers as the SQLite store does (SB9 on etcd, issue 14): fast-check generates
 * sequences of writes (devices, tasks, subtasks, statuses, results with dedup keys, deletes,
 * batches that roll back), both stores run each, and every read of SchedulerStateStore must
 * return the same — from the writer's mirror, and again from a store opened afresh on the same
 * etcd prefix (the mirror rebuilt from etcd alone).
 */
import t from 'tap';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { SchedulerStore } from '../../src/scheduler/store.ts';
import { EtcdStore } from '../../src/scheduler/etcd/index.ts';
import { etcdMissing, startEtcd } from '../helpers/etcd.ts';
import { FC_SEED } from '../helpers/seed.ts';
import { applyAll, opSequence, readAll } from '../helpers/store-ops.ts';

const log = pino({ level: 'silent' });

t.test('SB9/B3: every read of the etcd store equals the SQLite store\'s after the same writes, before and after a reopen', { skip: etcdMissing }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'retinad-etcd-contract-'));
  const etcd = await startEtcd(dir);
  t.teardown(async () => { await etcd.stop(); rmSync(dir, { recursive: true, force: true }); });
  let run = 0;
  await fc.assert(fc.asyncProperty(opSequence, async (ops) => {
    run++;
    const sqlite = new SchedulerStore(path.join(dir, `sqlite-${run}`));
    const o = { endpoints: [etcd.endpoint], prefix: `/contract/${run}/`, resultsDir: path.join(dir, `results-${run}`), log };
    const etcdStore = await EtcdStore.open(o);
    try {
      const fromSqlite = applyAll(sqlite, ops);
      const fromEtcd = applyAll(etcdStore, ops);
      // assert throws (with a diff), so fast-check shrinks the sequence to a small one that fails.
      assert.deepStrictEqual(fromEtcd, fromSqlite, 'each write returns the same');
      const expected = readAll(sqlite);
      assert.deepStrictEqual(readAll(etcdStore), expected, 'the writer\'s reads');
      await etcdStore.durable();
      const reopened = await EtcdStore.open(o);
      try {
        assert.deepStrictEqual(readAll(reopened), expected, 'the reads of a store loaded from etcd');
      } finally {
        await reopened.close();
      }
    } finally {
      await etcdStore.close();
      sqlite.close();
    }
  }), { numRuns: Number(process.env.RETINAD_FC_RUNS ?? 40), seed: FC_SEED });
  t.pass(`${run} sequences (shrinking included) gave equal reads`);
});
