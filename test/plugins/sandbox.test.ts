/**
 * Issue 4 §3 with deliberately hostile plugins: an infinite loop overruns its deadline and its
 * worker is replaced; a memory bomb hits its cap; a trap and a flood of output fail their call;
 * a wrong ABI or an import the host does not provide never gets installed. None of it disturbs
 * a well-behaved plugin running at the same time.
 */
import t from 'tap';
import { PluginPool, PluginCallError } from '../../src/plugins/pool.ts';
import { PluginRegistry } from '../../src/plugins/registry.ts';
import { TrustStore } from '../../src/plugins/keys.ts';
import { PackageError } from '../../src/plugins/package-file.ts';
import { fixtureManifest, fixturePackage, testKeys } from '../helpers/plugins.ts';

const trust = new TrustStore();
trust.add(testKeys.publicPem);
const pool = new PluginPool({ workers: 2 });
t.teardown(() => pool.close());
const reg = new PluginRegistry(t.testdir({}), trust, pool);
const frame = (n: number) => ({ input: new SharedArrayBuffer(n), ptsMs: 40, args: {} });

t.test('a good plugin runs and sees its input', async (t) => {
  const r = await reg.install(fixturePackage('echo'));
  t.strictSame(r, { AlgID: 9001, AlgVersion: '1.0.0', status: 'valid', error: undefined, active: '1.0.0' });
  const p = reg.get(9001)!;
  const input = new SharedArrayBuffer(32 * 24 * 3);
  new Uint8Array(input).fill(2);
  const out = await pool.call(p, { input, ptsMs: 40, args: { Gain: 3 } });
  t.strictSame((out.output as { Results: Array<{ ResultData: Record<string, unknown> }> }).Results[0]?.ResultData, { W: 32, H: 24, Bytes: 2304, Sum: 4608, Gain: 3, Version: 'VERSION' });
  t.ok(out.totalMs >= out.postMs);
});

t.test('a plain input buffer is moved to the worker and moved back after the call, for the next frame', async (t) => {
  const p = reg.get(9001)!;
  const input = new ArrayBuffer(32 * 24 * 3);
  new Uint8Array(input).fill(2);
  const out = await pool.call(p, { input, ptsMs: 40, args: {} });
  t.equal(input.byteLength, 0, 'moved, not copied: detached here during the call');
  t.type(out.input, ArrayBuffer, 'given back');
  t.equal(out.input!.byteLength, 32 * 24 * 3, 'the whole buffer');
  t.equal((out.output as { Results: Array<{ ResultData: { Sum: number } }> }).Results[0]?.ResultData.Sum, 4608, 'the plugin saw the frame');
  const again = await pool.call(p, { input: out.input!, ptsMs: 80, args: {} });
  t.ok(again.input, 'and the reused buffer comes back again');
  t.equal((await pool.call(p, frame(32 * 24 * 3))).input, undefined, 'shared memory is not moved, so nothing comes back');
});

t.test('hostile plugins fail their own calls only', async (t) => {
  for (const name of ['loop', 'bomb', 'trap', 'flood']) t.equal((await reg.install(fixturePackage(name))).status, 'valid', `${name} passes its trial (behaves at pts 0)`);
  const expect: Array<[number, string, RegExp]> = [
    [9101, 'deadline', /exceeded 300 ms; its worker was replaced/],
    [9102, 'trap', /trapped/],
    [9103, 'trap', /trapped: .*unreachable/],
    [9104, 'output', /output of 4194304 bytes exceeds limits\.maxOutputBytes \(65536\)/],
  ];
  const good = reg.get(9001)!;
  for (const [id, reason, re] of expect) {
    const p = reg.get(id)!;
    // The good plugin runs alongside the hostile one, on the same pool.
    const [bad, ok] = await Promise.allSettled([pool.call(p, frame(16 * 16 * 3)), pool.call(good, frame(32 * 24 * 3))]);
    t.equal(bad.status, 'rejected', `${p.manifest.AlgType} fails`);
    if (bad.status === 'rejected') {
      t.type(bad.reason, PluginCallError);
      t.equal((bad.reason as PluginCallError).reason, reason);
      t.equal((bad.reason as PluginCallError).exceptionCode, 50);
      t.match((bad.reason as Error).message, re);
    }
    t.equal(ok.status, 'fulfilled', `a good plugin alongside ${p.manifest.AlgType} is undisturbed`);
  }
  // After a worker was killed for overrunning, the pool still serves calls.
  const again = await pool.call(good, frame(32 * 24 * 3));
  t.ok(again.output, 'pool recovered');
});

t.test('wrong ABI, WASI imports and own memory never get installed as valid (EB2, SM3)', async (t) => {
  const w = await reg.install(fixturePackage('wrongabi'));
  t.equal(w.status, 'invalid');
  t.match(w.error ?? '', /plugin speaks ABI 99; the host speaks ABI 1/);
  t.notOk(reg.get(9105), 'not offered to tasks');
  const wasi = await reg.install(fixturePackage('wasi'));
  t.equal(wasi.status, 'invalid');
  t.match(wasi.error ?? '', /imports wasi_snapshot_preview1\.fd_write, which the host does not provide/);
  const infos = reg.algInfoList(() => false);
  t.equal(infos.find((i) => i.AlgID === 9105)?.AlgStatus, 2, 'AlgStatus 2 (invalid) in table 14');
});

t.test('versions side by side; a failing update rolls back; versions are immutable; removal waits for tasks', async (t) => {
  const r2 = await reg.install(fixturePackage('echo', { override: { AlgVersion: '1.1.0' } }));
  t.equal(r2.active, '1.1.0', 'new tasks get the new version');
  t.equal(reg.get(9001, '1.0.0')?.manifest.AlgVersion, '1.0.0', 'the old version stays usable for tasks that name it');
  const r3 = await reg.install(fixturePackage('echo', { override: { AlgVersion: '1.2.0' }, wasmFrom: 'wrongabi' }));
  t.equal(r3.status, 'invalid');
  t.equal(r3.active, '1.1.0', 'a version that fails to load leaves 1.1.0 active (rollback)');
  await t.rejects(reg.install(fixturePackage('echo', { override: { AlgVersion: '1.1.0', Description: 'changed' } })), /versions are immutable/);
  const same = await reg.install(fixturePackage('echo', { override: { AlgVersion: '1.1.0' } }));
  t.equal(same.status, 'valid', 're-installing the identical package is a no-op');
  t.throws(() => reg.remove(9001, '1.1.0', () => true), /used by a running task/);
  reg.remove(9001, '1.1.0', () => false);
  t.equal(reg.activeVersion(9001), '1.0.0');
  t.throws(() => reg.remove(9001, '9.9.9', () => false), PackageError);
});

t.test('the same package installed twice at once (two dispatches naming it): one install, both answered', async (t) => {
  const own = new PluginRegistry(t.testdir({}), trust, pool);
  const pkg = fixturePackage('echo');
  const outcomes = await Promise.all([own.install(pkg), own.install(pkg), own.install(pkg)]);
  for (const r of outcomes) t.strictSame(r, { AlgID: 9001, AlgVersion: '1.0.0', status: 'valid', error: undefined, active: '1.0.0' });
  t.equal(own.entries().filter((e) => e.AlgID === 9001).length, 1, 'installed once');
  const out = await pool.call(own.get(9001)!, frame(32 * 24 * 3));
  t.ok(out.output, 'and it runs');
});

t.test('no call sees another call\'s memory: memory kept between calls is zeroed first', async (t) => {
  t.equal((await reg.install(fixturePackage('peek'))).status, 'valid');
  const p = reg.get(9201)!;
  const seen: number[] = [];
  // More calls than workers, so every worker serves several in a row.
  for (let i = 0; i < 6; i++) seen.push(((await pool.call(p, frame(32 * 24 * 3))).output as { Results: Array<{ ResultData: { Seen: number } }> }).Results[0]?.ResultData.Seen ?? NaN);
  t.strictSame(seen, [0, 0, 0, 0, 0, 0], 'each call reads only zeros where the previous one wrote 0xab');
});

t.test('frameToPlugin: false hands the export an empty [0] (it reads only model outputs)', async (t) => {
  const own = new PluginRegistry(t.testdir({}), trust, pool);
  const m = fixtureManifest('echo');
  await own.install(fixturePackage('echo', { override: { AlgVersion: '2.0.0', input: { ...m.input, frameToPlugin: false } }, wasmFrom: 'echo' }));
  const input = new SharedArrayBuffer(32 * 24 * 3);
  new Uint8Array(input).fill(2);
  const out = await pool.call(own.get(9001, '2.0.0')!, { input, ptsMs: 0, args: {} });
  t.match((out.output as { Results: Array<{ ResultData: Record<string, unknown> }> }).Results[0]?.ResultData, { Bytes: 0, Sum: 0 });
});
