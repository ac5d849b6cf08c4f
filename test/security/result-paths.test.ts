/**
 * The etcd store keeps result bodies as files named by TaskID (issue 14). A TaskID comes from
 * outside (an upper scheduler dispatches one, an executor reports results for one), so it must
 * not steer a path: generated hostile ids (`..`, separators, NUL, control characters, overlong,
 * lone surrogates, and random strings) either name a directory directly under the results root
 * or are refused before anything touches the disk.
 */
import t from 'tap';
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { EtcdStore, FsResultFiles, unsafeSegment } from '../../src/scheduler/etcd/index.ts';
import type { TaskResultBody } from '../../src/protocol/index.ts';
import { etcdMissing, startEtcd } from '../helpers/etcd.ts';
import { FC_SEED } from '../helpers/seed.ts';

/** Every file and directory under `dir`, relative to it. */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

const hostile = fc.oneof(
  fc.constantFrom('..', '.', '../x', 'a/../../b', '/etc/passwd', 'a\\..\\b', 'a\0b', '', 'x'.repeat(129), '\u0001', '\uD800', 'ok\n', 'é'.repeat(65)),
  fc.array(fc.constantFrom('..', '/', '.', 'a', '\\', '\0', '%2e', '%2f', '\u202e', '~'), { minLength: 1, maxLength: 8 }).map((p) => p.join('')),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 140 }),
);

t.test('issue 14: a TaskID names one directory right under the results root, or is refused before the disk is touched', async (t) => {
  const sandbox = mkdtempSync(path.join(os.tmpdir(), 'retinad-result-paths-'));
  const root = path.join(sandbox, 'results');
  t.teardown(() => rmSync(sandbox, { recursive: true, force: true }));
  const files = new FsResultFiles(root);
  mkdirSync(path.join(sandbox, 'outside'));
  const outside = tree(sandbox).filter((p) => !p.startsWith('results'));
  let refused = 0;
  let stored = 0;
  fc.assert(fc.property(hostile, fc.nat(1000), (id, seq) => {
    const ref = { taskId: id, seq, writer: 'w1' };
    const before = tree(root);
    let threw = false;
    try { files.put(ref, '{}'); } catch { threw = true; }
    if (threw) {
      refused++;
      if (unsafeSegment(id) === null) return false; // refused for another reason than the rule
      return tree(root).join('\n') === before.join('\n');
    }
    stored++;
    const dirs = readdirSync(root);
    if (unsafeSegment(id) !== null || !dirs.includes(id)) return false;
    const ok = files.get(ref) === '{}' && readdirSync(path.join(root, id)).includes(`${seq}-w1.json`);
    files.delete(ref);
    return ok && !readdirSync(root).includes(id);
  }), { numRuns: 2000, seed: FC_SEED });
  t.strictSame(tree(sandbox).filter((p) => !p.startsWith('results')), outside, 'nothing appeared outside the results root');
  t.ok(refused > 100 && stored > 100, `${refused} ids refused, ${stored} stored and removed`);
  for (const id of ['..', '../x', 'a/b', '.', '', 'a\\b', 'a\0b', 'x'.repeat(129)]) t.throws(() => files.put({ taskId: id, seq: 1, writer: 'w1' }, '{}'), /TaskID .* cannot name a results directory/, `refused: ${JSON.stringify(id)}`);
  for (const writer of ['../w', 'a/b', '.hidden', '', 'x'.repeat(65)]) t.throws(() => files.put({ taskId: 'ok', seq: 1, writer }, '{}'), /writer id/, `writer refused: ${JSON.stringify(writer)}`);
});

t.test('issue 14: EtcdStore.insertResult refuses a hostile TaskID and stores nothing', { skip: etcdMissing }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'retinad-result-paths-etcd-'));
  const etcd = await startEtcd(dir);
  const store = await EtcdStore.open({ endpoints: [etcd.endpoint], prefix: '/paths/', resultsDir: path.join(dir, 'results'), log: pino({ level: 'silent' }) });
  t.teardown(async () => { await store.close(); await etcd.stop(); rmSync(dir, { recursive: true, force: true }); });
  const body = { TaskID: 's', DeviceID: 'd', DstDeviceList: [], AlgID: 1, AlgVersion: '1', Ts: 1, TaskResultData: {} } as unknown as TaskResultBody;
  for (const id of ['../../escape', 'a/b', '..']) {
    t.throws(() => store.insertResult(id, body, `k-${id}`), /cannot name a results directory/);
    t.equal(store.resultCount(id), 0);
  }
  await t.rejects(EtcdStore.open({ endpoints: [etcd.endpoint], resultsDir: dir, log: pino({ level: 'silent' }), writerId: '../w' }), /writer id/);
  t.ok(store.insertResult('fine', body, 'k-fine'), 'a plain one is stored');
  await store.durable();
  t.strictSame(tree(path.join(dir, 'results')), ['fine', path.join('fine', `1-${store.writerId}.json`)]);
});
