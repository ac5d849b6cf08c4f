/**
 * Issue 10 item 5: a plugin's memory is capped by the executor, not only by what its signed
 * manifest asks for (up to 4 GiB). A memory bomb whose manifest allows 4 GiB hits the
 * executor's cap (--plugin-max-memory) and fails its own call; the box decides.
 */
import t from 'tap';
import { PluginPool, PluginCallError } from '../../src/plugins/pool.ts';
import { PluginRegistry } from '../../src/plugins/registry.ts';
import { TrustStore } from '../../src/plugins/keys.ts';
import { fixturePackage, testKeys } from '../helpers/plugins.ts';

const trust = new TrustStore();
trust.add(testKeys.publicPem);
const pool = new PluginPool({ workers: 1 });
t.teardown(() => pool.close());
const greedy = () => fixturePackage('bomb', { override: { limits: { wasmMemoryPages: 65536, callDeadlineMs: 2000, maxOutputBytes: 65536 } } });

t.test('a manifest asking for 4 GiB gets the executor\'s cap, and the bomb traps at it', async (t) => {
  const reg = new PluginRegistry(t.testdir({}), trust, pool, { maxMemoryMB: 2 });
  t.equal((await reg.install(greedy())).status, 'valid', 'installed (it behaves at pts 0)');
  const p = reg.get(9102)!;
  t.equal(p.manifest.limits.wasmMemoryPages, 65536, 'the signed manifest asks for 4 GiB');
  t.equal(p.memoryMaximumPages, 32, 'the executor allows 2 MiB (32 pages of 64 KiB), below the module\'s own 64 and the manifest\'s 65536');
  const r = await pool.call(p, { input: new SharedArrayBuffer(16 * 16 * 3), ptsMs: 40, args: {} }).catch((e: unknown) => e);
  t.type(r, PluginCallError, 'the bomb fails its own call');
  t.equal((r as PluginCallError).reason, 'trap');
});
