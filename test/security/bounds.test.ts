/**
 * Every resource bounded (issue 10 item 5), each finding of the review replayed:
 *  - a 400 MB NotifyURL/peer reply took the scheduler to 2.2 GB → replies are cut off at 16 MiB while they stream;
 *  - a 1 MB package that unpacks to 1 GiB took it to 3.1 GB → the head (manifest, signature) is read
 *    and checked first, then inflation stops at what the signed manifest accounts for, and never
 *    goes past 8× the package's size;
 *  - a TaskRequest with 20,000 Inputs kept dispatching after Stop → at most 256 Inputs, and Stop ends placement;
 *  - AlgArgs nested ~4,100 deep → 500 → now a 400 naming the field and the depth;
 *  - a 500-result page of 4 MiB results failed with "Invalid string length" → pages are bounded in bytes too;
 *  - a zero-length scheduler.db started empty without a word → refused, as is a damaged one.
 */
import http from 'node:http';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { pino } from 'pino';
import { RetinaClient } from '../../src/net/client.ts';
import { readTarGz, expansionLimit, PackageError, verifyPackage, writeTarGz } from '../../src/plugins/package-file.ts';
import { TrustStore, signBytes } from '../../src/plugins/keys.ts';
import { fixtureManifest, otherKeys, testKeys } from '../helpers/plugins.ts';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { SchedulerFacade, RESULT_PAGE_MAX_BYTES } from '../../src/scheduler/facade.ts';
import { SchedulerStore } from '../../src/scheduler/store.ts';
import { createSchedulerServer } from '../../src/api/scheduler-server.ts';
import { Control, TASK_INPUTS_MAX, type TaskResultBody } from '../../src/protocol/index.ts';
import { waitFor } from '../helpers/cluster.ts';
import { fakeExecutor, type SeenCommand } from '../helpers/fake-executor.ts';

const log = pino({ level: 'silent' });

t.test('a reply of 64 MiB is cut off at 16 MiB while it streams, not buffered whole', async (t) => {
  let sent = 0;
  let aborted = false;
  const srv = http.createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    const chunk = Buffer.alloc(1 << 20, 0x20);
    res.write('{"a":"');
    const more = () => {
      while (sent < 64 << 20) {
        sent += chunk.length;
        if (!res.write(chunk)) { res.once('drain', more); return; }
      }
      res.end('"}');
    };
    res.on('close', () => { if (sent < 64 << 20) aborted = true; });
    more();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const c = new RetinaClient({ senderId: 'x' });
  t.teardown(async () => { srv.close(); await c.close(); });
  await t.rejects(c.send('GET', `http://127.0.0.1:${(srv.address() as { port: number }).port}/`), /reply is over 16777216 bytes/);
  await waitFor('the transfer aborted', async () => (aborted ? true : undefined), 5000);
  t.ok(sent < 64 << 20, `the peer could send only ${(sent / 2 ** 20).toFixed(0)} MiB of 64 before the client hung up`);
});

t.test('a package that inflates far beyond its size is refused as a bomb before anything is unpacked', async (t) => {
  const bomb = gzipSync(Buffer.alloc(256 << 20)); // 256 MiB of zeros: ~250 KiB compressed
  t.ok(bomb.length < 1 << 20, `the bomb is ${(bomb.length / 1024).toFixed(0)} KiB`);
  const before = process.memoryUsage().arrayBuffers;
  let err: unknown;
  try { readTarGz(bomb); } catch (e) { err = e; }
  t.ok(err instanceof PackageError, 'refused as a package problem');
  t.match((err as Error).message, /package inflates past 67108864 bytes .*refused as a decompression bomb/);
  t.ok(process.memoryUsage().arrayBuffers - before < 128 << 20, 'no more than the bound was ever held');
  t.equal(expansionLimit(100 << 20), 800 << 20, 'a large package (models barely compress) may inflate to 8× its size');
});

t.test('the signature is checked before a package is expanded, and expansion stops at what the signed manifest accounts for', async (t) => {
  const trust = new TrustStore();
  trust.add(testKeys.publicPem);
  const manifest = { ...fixtureManifest('echo'), files: [{ path: 'files/plugin.wasm', sha256: '0'.repeat(64), size: 10 }] };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const bomb = Buffer.alloc(128 << 20);
  const pkg = (privatePem: string) => writeTarGz([
    { path: 'manifest.json', data: manifestBytes },
    { path: 'manifest.sig', data: Buffer.from(JSON.stringify({ alg: 'ed25519', ...signBytes(manifestBytes, privatePem) })) },
    { path: 'files/plugin.wasm', data: bomb },
  ]);
  const before = process.memoryUsage().arrayBuffers;
  const foreign = pkg(otherKeys.privatePem);
  t.ok(foreign.length < 1 << 20, `a ${(foreign.length / 1024).toFixed(0)} KiB package that holds 128 MiB`);
  t.throws(() => verifyPackage(foreign, trust), /signature: key .* is not among this executor's trusted publisher keys/, 'an untrusted signer is refused from the head alone');
  t.throws(() => verifyPackage(pkg(testKeys.privatePem), trust), /package inflates past \d+ bytes, twice what its manifest accounts for: refused/,
    'a trusted manifest that under-declares a file stops the expansion at its own accounting');
  t.ok(process.memoryUsage().arrayBuffers - before < (128 << 20) * 2 + (8 << 20), 'neither was expanded whole (beyond the test\'s own buffer)');
  t.throws(() => verifyPackage(writeTarGz([{ path: 'files/x', data: Buffer.alloc(10) }, { path: 'manifest.json', data: manifestBytes }]), trust), /no manifest\.json as its first entry/);
});

t.test('Inputs are capped; AlgArgs nesting is bounded (a 400 naming the field, not a 500)', async (t) => {
  const s = new Scheduler({ deviceId: 'sched', dataDir: t.testdir({}), publicUrl: 'http://127.0.0.1:1', log });
  const app = createSchedulerServer(s, { log });
  t.teardown(async () => { await app.close(); await s.close(); });
  const many = Array.from({ length: 20_000 }, (_, i) => ({ StreamURL: `rtsp://cam/${i}` }));
  const r1 = await app.inject({ method: 'POST', url: '/System/TaskRequest', payload: { TaskName: 'x', InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: many, AlgType: 'frame_extraction' } } } });
  t.equal(r1.statusCode, 422);
  t.match(r1.json(), { StatusCode: '1', Message: new RegExp(`Inputs: must NOT have more than ${TASK_INPUTS_MAX} items`) });
  let deep: Record<string, unknown> = {};
  for (let i = 0; i < 4100; i++) deep = { a: deep };
  const r2 = await app.inject({ method: 'POST', url: '/System/TaskRequest', payload: { TaskName: 'x', InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: 'rtsp://cam/1' }], AlgType: 'frame_extraction', AlgArgs: deep } } } });
  t.equal(r2.statusCode, 400);
  t.match(r2.json(), { StatusCode: '1', Message: /^InitiationInfo\.CustomInfo: must nest at most 32 levels deep/ });
});

t.test('Stop while a task is still being placed ends the placing', async (t) => {
  const seen: SeenCommand[] = [];
  const slow = await fakeExecutor('slow', { seen, dispatchDelayMs: 150 });
  const dispatches = () => seen.filter((c) => c.type === 'task_dispatch').length;
  const s = new Scheduler({ deviceId: 'sched', dataDir: t.testdir({}), publicUrl: 'http://127.0.0.1:1', keepaliveSec: 60, log });
  t.teardown(async () => { await s.close(); slow.close(); });
  s.register({ DeviceID: 'slow', DeviceType: '1', ProductType: 'fake', CommandURL: slow.url });
  await s.refreshAlgorithms('slow');
  s.start();
  const inputs = Array.from({ length: TASK_INPUTS_MAX }, (_, i) => ({ StreamURL: `rtsp://cam/${i}` }));
  const r = await s.submit({ TaskName: 'big', TaskType: 1, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: inputs, AlgType: 'frame_extraction' } } });
  if (!r.ok) throw new Error(r.message);
  await waitFor('placing has begun', async () => (dispatches() >= 2 ? true : undefined), 10_000, 10);
  await s.control([{ DeviceID: 'sched', TaskID: r.taskId, Control: Control.Stop }]);
  const atStop = dispatches();
  await new Promise((res) => setTimeout(res, 1000));
  t.ok(dispatches() <= atStop + 1, `no more dispatches after Stop (${atStop} at Stop, ${dispatches()} a second later, of ${TASK_INPUTS_MAX})`);
});

t.test('a result page is bounded in bytes as well as in count, and the cursor walks on', async (t) => {
  const s = new Scheduler({ deviceId: 'sched', dataDir: t.testdir({}), publicUrl: 'http://127.0.0.1:1', log });
  t.teardown(() => s.close());
  s.store.insertTask('big', { TaskName: 'big', InitiationInfo: { DeviceID: 'i' } }, { Inputs: [{ StreamURL: 'rtsp://x' }] }, 1);
  const blob = 'A'.repeat(4 << 20);
  for (let i = 0; i < 10; i++) {
    const body = { TaskID: 'big', DeviceID: 'e', DstDeviceList: [], AlgID: 1, AlgVersion: '1', Ts: i, CreateTime: '2026-01-01 00:00:00.00', TaskResultData: { ImageData: blob } } as unknown as TaskResultBody;
    s.store.insertResult('big', body, `k${i}`);
  }
  const api = new SchedulerFacade(s);
  const seen: number[] = [];
  let after = 0;
  for (let pages = 0; pages < 20; pages++) {
    const page = api.taskResults('big', after, 500, { kind: 'node' })!;
    t.ok(JSON.stringify(page).length <= RESULT_PAGE_MAX_BYTES + (4 << 20) + 4096, `page ${pages}: ${page.TaskResultList.length} results, within the byte bound`);
    seen.push(...page.TaskResultList.map((x) => x.Ts));
    if (!page.Next) break;
    after = Number(page.Next);
  }
  t.strictSame(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'every result once, in order, over several pages');
});

t.test('a task holds at most its quota of results; more are refused, not stored', async (t) => {
  const s = new Scheduler({ deviceId: 'sched', dataDir: t.testdir({}), publicUrl: 'http://127.0.0.1:1', log, maxResultsPerTask: 5 });
  t.teardown(() => s.close());
  s.store.insertTask('q', { TaskName: 'q', InitiationInfo: { DeviceID: 'i' } }, { Inputs: [{ StreamURL: 'rtsp://x' }] }, 1);
  const outcomes = Array.from({ length: 8 }, (_, i) => s.onTaskResult({ CommandType: 'task_result', CommandIdx: i, DeviceID: 'e',
    MessageBody: { TaskID: 'q', DeviceID: 'e', DstDeviceList: [], AlgID: 1, AlgVersion: '1', Ts: i, CreateTime: '2026-01-01 00:00:00.00', TaskResultData: {} } }, 'node|e'));
  t.strictSame(outcomes.map((o) => o.ok), [true, true, true, true, true, false, false, false]);
  t.match(outcomes[7], { ok: false, message: /holds its quota of 5 results/ });
  t.equal(s.store.resultCount('q'), 5);
});

t.test('the result quota after a delete, and over more tasks than the counts kept in memory', async (t) => {
  const s = new Scheduler({ deviceId: 'sched', dataDir: t.testdir({}), publicUrl: 'http://127.0.0.1:1', log, maxResultsPerTask: 2 });
  t.teardown(() => s.close());
  let idx = 0;
  const result = (taskId: string) => s.onTaskResult({ CommandType: 'task_result', CommandIdx: idx++, DeviceID: 'e',
    MessageBody: { TaskID: taskId, DeviceID: 'e', DstDeviceList: [], AlgID: 1, AlgVersion: '1', Ts: idx, CreateTime: '2026-01-01 00:00:00.00', TaskResultData: {} } }, 'node|e').ok;
  const task = (id: string) => s.store.insertTask(id, { TaskName: id, InitiationInfo: { DeviceID: 'i' } }, { Inputs: [{ StreamURL: 'rtsp://x' }] }, 1);
  task('q');
  t.strictSame([result('q'), result('q'), result('q')], [true, true, false], 'the quota of 2 holds');
  t.ok(await s.management.deleteTask('q'), 'deleted with its results');
  task('q');
  t.strictSame([result('q'), result('q'), result('q')], [true, true, false], 'a task given the same TaskID again starts from none, not from the deleted one\'s count');
  // More tasks with results than the scheduler keeps counts of (16,384): the first one's count is
  // dropped from memory, and read from the store again when its next result comes.
  task('first');
  t.ok(result('first'));
  const n = 17_000;
  s.store.batch(() => { for (let i = 0; i < n; i++) task(`t${i}`); });
  let ok = 0;
  for (let i = 0; i < n; i++) ok += result(`t${i}`) ? 1 : 0;
  t.equal(ok, n, `${n} other tasks each stored a result`);
  const kept = (Reflect.get(Reflect.get(s, 'tasks') as object, 'resultCounts') as Map<string, number>).size;
  t.ok(kept <= 16_384, `the counts kept in memory stay bounded (${kept} for ${n + 2} tasks)`);
  t.strictSame([result('first'), result('first')], [true, false], 'the evicted task is counted from the store: one more fits, then its quota holds');
});

t.test('a zero-length or damaged database stops the start with what to do', async (t) => {
  const dir = t.testdir({ empty: { 'scheduler.db': '' }, garbage: { 'scheduler.db': 'not a database at all, just text '.repeat(200) } });
  t.throws(() => new SchedulerStore(path.join(dir, 'empty')), /scheduler\.db: the database file is empty \(0 bytes\) where data was expected; restore it from a backup, or remove it/);
  t.throws(() => new SchedulerStore(path.join(dir, 'garbage')), /scheduler\.db: not a usable SQLite database .*restore it from a backup/);
  const fresh = path.join(dir, 'fresh');
  const st = new SchedulerStore(fresh);
  st.close();
  t.doesNotThrow(() => new SchedulerStore(fresh).close(), 'a healthy database opens (and passes quick_check)');
});
