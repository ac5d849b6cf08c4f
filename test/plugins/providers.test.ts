/**
 * ER4 / EM3 / ER3 (issue 15): the execution provider of each model is chosen from the manifest's
 * resources.accelerator, what the probe found and what the installed ONNX Runtime can create a
 * session with; what cannot be had falls back to CPU with the reason, in the call's report, in
 * table 15 ModelInfo and in the log. Real ONNX Runtime sessions in real worker threads.
 */
import t from 'tap';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { chooseProvider, leastLoadedGpu, type HostAccelerators, type ProviderSupport } from '../../src/plugins/providers.ts';
import { providerSupport, supportedProviders } from '../../src/plugins/ort-support.ts';
import { PluginPool } from '../../src/plugins/pool.ts';
import { PluginRegistry } from '../../src/plugins/registry.ts';
import { TrustStore } from '../../src/plugins/keys.ts';
import { buildPackage, PackageError } from '../../src/plugins/package-file.ts';
import { hostAccelerators } from '../../src/runtime/accelerators.ts';
import { echoWithModelPackage, fixtureManifest, fixtureWasm, testKeys } from '../helpers/plugins.ts';
import type { PluginManifest } from '../../src/plugins/manifest.ts';

const NO_GPU: HostAccelerators = { gpus: [], gpuReason: 'libnvidia-ml.so.1: cannot open shared object file', renderNodes: [], npus: [] };
const TWO_GPUS: HostAccelerators = { gpus: [{ index: 0, name: 'NVIDIA L4', memoryFreeMB: 10_000 }, { index: 1, name: 'NVIDIA L4', memoryFreeMB: 20_000 }], renderNodes: [], npus: [] };
const CPU_ONLY: ProviderSupport = { cpu: { ok: true }, cuda: { ok: false, reason: 'Failed to load shared library' }, tensorrt: { ok: false, reason: 'Failed to load shared library' }, openvino: { ok: false, reason: 'not in this onnxruntime-node build' } };
const GPU_BUILD: ProviderSupport = { ...CPU_ONLY, cuda: { ok: true } };

t.test('ER4: the choice follows the manifest, the probe and what ONNX Runtime loads', async (t) => {
  t.strictSame(chooseProvider('cpu', TWO_GPUS, GPU_BUILD), { requested: 'cpu', provider: 'cpu', reason: 'as asked' }, 'cpu asked: cpu, even with GPUs');
  const noGpu = chooseProvider('cuda', NO_GPU, GPU_BUILD);
  t.equal(noGpu.provider, 'cpu');
  t.match(noGpu.reason, /^cuda: the probe found no NVIDIA GPU \(libnvidia-ml\.so\.1: cannot open shared object file\); running on cpu$/, 'the probe\'s reason is named');
  const noEp = chooseProvider('cuda', TWO_GPUS, CPU_ONLY);
  t.equal(noEp.provider, 'cpu');
  t.match(noEp.reason, /cuda: this ONNX Runtime cannot create a session on cuda \(Failed to load shared library\); running on cpu/, 'a GPU without a CUDA-enabled ONNX Runtime: its error is named');
  const cuda = chooseProvider('cuda', TWO_GPUS, GPU_BUILD);
  t.match(cuda, { requested: 'cuda', provider: 'cuda', deviceId: 1 }, 'the GPU with more free memory first');
  t.match(cuda.reason, /^as asked on GPU 1 \(NVIDIA L4\)$/);
  const trt = chooseProvider('tensorrt', TWO_GPUS, GPU_BUILD);
  t.equal(trt.provider, 'cuda', 'tensorrt not loadable: cuda on the same box');
  t.match(trt.reason, /^tensorrt: this ONNX Runtime cannot create a session on tensorrt .*; using cuda on GPU 1/);
  t.equal(chooseProvider('any', TWO_GPUS, GPU_BUILD).provider, 'cuda', 'any: a GPU when there is one');
  const any = chooseProvider('any', NO_GPU, CPU_ONLY);
  t.equal(any.provider, 'cpu');
  t.match(any.reason, /cuda: .*; openvino: this ONNX Runtime cannot create a session on openvino \(not in this onnxruntime-node build\); running on cpu/);
  t.equal(chooseProvider('openvino', NO_GPU, { ...CPU_ONLY, openvino: { ok: true } }).provider, 'openvino', 'openvino where the build has it');
});

t.test('ER4: several GPUs share the models, one device index each', async (t) => {
  const assigned = new Map<number, number>();
  const picks: number[] = [];
  for (let i = 0; i < 4; i++) {
    const c = chooseProvider('cuda', TWO_GPUS, GPU_BUILD, assigned);
    picks.push(c.deviceId ?? -1);
    if (c.deviceId !== undefined) assigned.set(c.deviceId, (assigned.get(c.deviceId) ?? 0) + 1);
  }
  t.strictSame(picks, [1, 0, 1, 0], 'fewest of our models first, free memory breaks the tie');
  t.equal(leastLoadedGpu([], new Map()), undefined);
});

t.test('ER4: the installed ONNX Runtime is asked once, by creating sessions: CPU loads; what does not load says why', async (t) => {
  const first = providerSupport();
  t.equal(providerSupport(), first, 'cached for the process');
  const s = await first;
  t.ok(s.cpu.ok, 'cpu creates a session');
  t.ok(supportedProviders(s).includes('cpu'));
  // onnxruntime-node as installed here is CPU-only: the CUDA provider library is not there.
  for (const p of ['cuda', 'tensorrt', 'openvino'] as const) {
    if (s[p].ok) continue;
    t.ok((s[p].reason ?? '').length > 0, `${p}: ${s[p].reason}`);
  }
  t.match(s.openvino.reason ?? '', /not in this onnxruntime-node build|backend not found/, 'openvino is not in the Node.js binding');
});

/** A pino logger whose lines land in `lines`. */
function capture(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write(chunk: Buffer, _e, cb) { for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>); cb(); } });
  return { log: pino({ level: 'info' }, sink), lines };
}

const frame = () => new ArrayBuffer(24 * 32 * 3);

t.test('ER4/ER3: a manifest asking for CUDA on a box without it runs on CPU and says so (call, ModelInfo, log)', { skip: hostAccelerators().gpus.length ? 'this box has a GPU' : false }, async (t) => {
  const { log, lines } = capture();
  const pool = new PluginPool({ workers: 1, intraOpThreads: 1, accelerators: hostAccelerators(), log });
  t.teardown(() => pool.close());
  const trust = new TrustStore();
  trust.add(testKeys.publicPem);
  const reg = new PluginRegistry(t.testdir({}), trust, pool);
  const r = await reg.install(echoWithModelPackage({ override: { resources: { accelerator: 'cuda' } } }));
  t.equal(r.status, 'valid', `installed (the trial run creates the session): ${r.error ?? ''}`);
  const p = reg.get(9011)!;
  const call = await pool.call(p, { input: frame(), ptsMs: 1, args: {} });
  const use = call.providers[0];
  t.equal(use?.provider, 'cpu', 'it ran, on CPU');
  t.equal(use?.requested, 'cuda');
  t.equal(use?.ModelID, 7);
  t.match(use?.reason ?? '', /^cuda: the probe found no NVIDIA GPU \(.+\); running on cpu$/, `reason: ${use?.reason}`);
  t.equal((call.output as { Results: Array<{ ResultData: { Bytes: number } }> }).Results[0]?.ResultData.Bytes, 24 * 32 * 3, 'the plugin ran after the model');

  const model = reg.algInfoList(() => false).find((a) => a.AlgID === 9011)?.ModelList?.[0];
  t.equal(model?.ExecutionProvider, 'cpu', 'table 15 ModelInfo names the provider');
  t.match(model?.ExecutionProviderReason ?? '', /cuda: the probe found no NVIDIA GPU/, 'and why');

  const warned = lines.filter((l) => l.level === 40 && l.requested === 'cuda');
  t.equal(warned.length, 1, 'one warning for the model, not one per call');
  t.match(String(warned[0]?.msg), /asks for cuda, runs on cpu: cuda: the probe found no NVIDIA GPU/);
  t.match(warned[0], { AlgID: 9011, ModelID: 7, provider: 'cpu' });
});

t.test('ER4: a provider that loads but fails for this model falls back to CPU in the worker, and the report says both', async (t) => {
  // The facts of a GPU box whose ONNX Runtime loads CUDA; the session itself then fails here (no CUDA library), as it would for a model the GPU cannot hold.
  const pool = new PluginPool({ workers: 1, intraOpThreads: 1, accelerators: { ...TWO_GPUS, gpus: [{ index: 3, name: 'NVIDIA H100' }] }, providerSupport: async () => GPU_BUILD });
  t.teardown(() => pool.close());
  const trust = new TrustStore();
  trust.add(testKeys.publicPem);
  const reg = new PluginRegistry(t.testdir({}), trust, pool);
  t.equal((await reg.install(echoWithModelPackage({ override: { resources: { accelerator: 'cuda' } } }))).status, 'valid');
  const use = (await pool.call(reg.get(9011)!, { input: frame(), ptsMs: 1, args: {} })).providers[0];
  t.equal(use?.provider, 'cpu');
  t.match(use?.fallbacks[0] ?? '', /^cuda: /, 'the worker tried cuda first');
  t.match(use?.reason ?? '', /^as asked on GPU 3 \(NVIDIA H100\); the session failed \(cuda: .+\), running on cpu$/, `reason: ${use?.reason}`);
  t.strictSame(pool.providers(reg.get(9011)!).map((u) => u.provider), ['cpu'], 'what ModelInfo and status read is what ran');
});

t.test('a manifest with an unknown accelerator is refused, naming the field and the values allowed', async (t) => {
  const m = { ...fixtureManifest('echo'), resources: { accelerator: 'rocm' } } as unknown as Omit<PluginManifest, 'files'>;
  t.throws(() => buildPackage(m, new Map([['files/plugin.wasm', fixtureWasm('echo')]]), testKeys.privatePem),
    new PackageError('manifest: resources.accelerator: must be one of "cpu", "cuda", "tensorrt", "openvino", "any"'));
});
