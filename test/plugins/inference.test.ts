/**
 * Issue 4 §4: ONNX Runtime inside the sandbox workers. A requested accelerator that cannot load
 * (on this CPU-only box and build) falls back to CPU instead of failing the task; the thread budget
 * never exceeds the cores; sessions are created once per worker and reused.
 */
import t from 'tap';
import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { PluginPool } from '../../src/plugins/pool.ts';
import { PluginRegistry } from '../../src/plugins/registry.ts';
import { TrustStore } from '../../src/plugins/keys.ts';
import { hostAccelerators } from '../../src/runtime/accelerators.ts';

const root = path.resolve(import.meta.dirname, '..', '..');

// What the probe finds decides what must happen; on a box with a GPU and a CUDA-enabled ONNX Runtime
// the same package runs on cuda (test/plugins/providers.test.ts covers the choice itself).
const host = hostAccelerators();
t.test('ER4: a package asking for any accelerator, on a box without one: the model still runs, on CPU, and says why', { skip: host.gpus.length ? 'this box has a GPU' : false }, async (t) => {
  t.equal(spawnSync(process.execPath, [path.join(root, 'scripts', 'build-plugins.mjs')]).status, 0);
  const trust = new TrustStore();
  trust.add(readFileSync(path.join(root, 'plugins-sdk', 'examples', 'build', 'keys', 'publisher.pub'), 'utf8'));
  const pool = new PluginPool({ workers: 1, intraOpThreads: 1, accelerators: host });
  t.teardown(() => pool.close());
  const reg = new PluginRegistry(t.testdir({}), trust, pool);
  const r = await reg.install(readFileSync(path.join(root, 'plugins-sdk', 'examples', 'build', 'text_recognition-1.0.0.rpk')));
  t.equal(r.status, 'valid', `installed: ${r.error ?? ''}`);
  const p = reg.get(2101)!;
  const first = await pool.call(p, { input: new ArrayBuffer(3 * 640 * 640 * 4), ptsMs: 1, args: {} });
  t.equal(first.providers[0]?.provider, 'cpu');
  t.equal(first.providers[0]?.requested, 'any', 'text_recognition asks for any accelerator');
  t.match(first.providers[0]?.reason ?? '', /cuda: the probe found no NVIDIA GPU.*openvino: .*running on cpu/, `reason recorded: ${first.providers[0]?.reason}`);
  const second = await pool.call(p, { input: new ArrayBuffer(3 * 640 * 640 * 4), ptsMs: 2, args: {} });
  // The install's trial run created the worker's session; later calls reuse it.
  t.strictSame([first, second].map((c) => c.providers[0]?.sessionCreated), [false, false], 'the session is created once per worker and reused');
  const fresh = new PluginPool({ workers: 1, intraOpThreads: 1 });
  t.teardown(() => fresh.close());
  const calls = [];
  for (let i = 0; i < 3; i++) calls.push(await fresh.call(p, { input: new ArrayBuffer(3 * 640 * 640 * 4), ptsMs: i, args: {} }));
  t.strictSame(calls.map((c) => c.providers[0]?.sessionCreated), [true, false, false], 'a new worker creates it on its first call only');
});

t.test('workers × intra-op threads ≤ cores', async (t) => {
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  const p = new PluginPool({ workers: 64, intraOpThreads: 64 });
  t.ok(p.workers * p.intraOpThreads <= cores, `${p.workers} × ${p.intraOpThreads} on ${cores} cores`);
  await p.close();
});
