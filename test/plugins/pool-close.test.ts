/**
 * Closing the plugin pool, or a call overrunning its deadline, while ONNX Runtime is inside a
 * session call must not take the process
 * down (seen: an executor stopped mid-frame died with "terminate called after throwing an
 * instance of 'Napi::Error'" — onnxruntime-node throws a C++ exception out of a call whose
 * worker is being terminated). The pool lets running calls finish, refuses new ones, then stops
 * its workers. Run in child processes: an abort must fail the test, not kill the runner.
 */
import t from 'tap';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const root = path.resolve(import.meta.dirname, '..', '..');
const built = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-plugins.mjs')], { encoding: 'utf8' });

t.test('the pool closed mid-inference: running calls finish, new ones are refused, the process lives', async (t) => {
  t.equal(built.status, 0, `example plugins built ${built.stderr}`);
  const dir = t.testdir({});
  const script = path.join(dir, 'close-mid-call.mts');
  writeFileSync(script, `
import { readFileSync } from 'node:fs';
import { PluginPool } from ${JSON.stringify(path.join(root, 'src/plugins/pool.ts'))};
import { PluginRegistry } from ${JSON.stringify(path.join(root, 'src/plugins/registry.ts'))};
import { TrustStore } from ${JSON.stringify(path.join(root, 'src/plugins/keys.ts'))};
const trust = new TrustStore();
trust.add(readFileSync(${JSON.stringify(path.join(root, 'plugins-sdk/examples/build/keys/publisher.pub'))}, 'utf8'));
const pool = new PluginPool({ workers: 2 });
const reg = new PluginRegistry(${JSON.stringify(dir)} + '/reg-' + process.argv[2], trust, pool);
await reg.install(readFileSync(${JSON.stringify(path.join(root, 'plugins-sdk/examples/build/text_recognition-1.0.0.rpk'))}));
const p = reg.get(2101)!;
const call = () => pool.call({ ...p, manifest: { ...p.manifest, cropStage: undefined } }, { input: new ArrayBuffer(3 * 640 * 640 * 4), ptsMs: 0, args: {} });
const running = [call(), call()];
await new Promise((r) => setTimeout(r, Number(process.argv[2])));
const closed = pool.close();
const late = await call().then(() => 'ran', (e: Error) => e.message);
const settled = await Promise.allSettled(running);
await closed;
console.log(JSON.stringify({ late, settled: settled.map((s) => s.status) }));
`);
  for (const delay of [0, 30, 80, 150, 300]) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', script, String(delay)], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    t.equal(r.status, 0, `closed ${delay} ms into two inferences: exit 0 (signal ${r.signal}; ${r.stderr.slice(-300)})`);
    const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { late?: string; settled?: string[] };
    t.match(out.late, /the plugin pool is closed/, 'a call after close is refused');
    t.strictSame(out.settled, ['fulfilled', 'fulfilled'], 'the calls running when it closed finished');
  }
});

t.test('a call that overruns its deadline inside ONNX Runtime fails alone; its worker is replaced once ORT returns; the process lives', async (t) => {
  const dir = t.testdir({});
  const script = path.join(dir, 'overrun.mts');
  writeFileSync(script, `
import { readFileSync } from 'node:fs';
import { PluginPool } from ${JSON.stringify(path.join(root, 'src/plugins/pool.ts'))};
import { PluginRegistry } from ${JSON.stringify(path.join(root, 'src/plugins/registry.ts'))};
import { TrustStore } from ${JSON.stringify(path.join(root, 'src/plugins/keys.ts'))};
const trust = new TrustStore();
trust.add(readFileSync(${JSON.stringify(path.join(root, 'plugins-sdk/examples/build/keys/publisher.pub'))}, 'utf8'));
// No allowance for loading models: a 1 ms deadline fires while ONNX Runtime creates or runs the session.
const pool = new PluginPool({ workers: 2, modelLoadMs: 0 });
const reg = new PluginRegistry(${JSON.stringify(dir)} + '/reg', trust, pool);
await reg.install(readFileSync(${JSON.stringify(path.join(root, 'plugins-sdk/examples/build/text_recognition-1.0.0.rpk'))}));
const p = reg.get(2101)!;
const det = { ...p, manifest: { ...p.manifest, cropStage: undefined } };
const tight = { ...det, manifest: { ...det.manifest, limits: { ...det.manifest.limits, callDeadlineMs: 1 } } };
const frame = () => ({ input: new ArrayBuffer(3 * 640 * 640 * 4), ptsMs: 0, args: {} });
const overruns = await Promise.all([0, 1, 2, 3, 4, 5].map(() => pool.call(tight, frame()).then(() => 'ran', (e: Error) => e.message)));
const after = await pool.call(det, frame()).then((r) => typeof r.output, (e: Error) => e.message);
await pool.close();
console.log(JSON.stringify({ overruns, after }));
`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: root, encoding: 'utf8', timeout: 180_000 });
  t.equal(r.status, 0, `exit 0 (signal ${r.signal}; ${r.stderr.slice(-300)})`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { overruns?: string[]; after?: string };
  t.equal(out.overruns?.length, 6);
  t.ok(out.overruns?.every((x) => /call exceeded 1 ms; its worker was replaced/.test(x)), `each overrun fails alone: ${JSON.stringify(out.overruns?.[0])}`);
  t.equal(out.after, 'object', 'a call within its deadline runs afterwards on a replaced worker');
});
