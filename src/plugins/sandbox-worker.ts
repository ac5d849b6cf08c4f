/**
 * The Piscina worker that runs plugin calls. Under tsx (tests, benches) it runs as TypeScript:
 * a worker inherits the parent's `--import tsx`; in the installed package it is compiled
 * JavaScript in dist/ like the rest (pool.ts picks the file).
 *
 * Each call gets a fresh WebAssembly instance whose only imports are the ABI functions and a
 * memory the host created with the manifest's cap: no filesystem, network, environment or
 * clock. ONNX Runtime sessions are created once per model per worker and reused.
 */
import { readFileSync } from 'node:fs';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { HOST_ABI_VERSION, INPUT_HEADER_BYTES, INPUT_MAGIC } from './abi.ts';
import { pluginImports } from './wasm-imports.ts';
import type { ProviderSpec, ProviderUse, TensorDtype, WorkerModel, WorkerReply, WorkerTask } from './worker-task.ts';

type Ort = typeof import('onnxruntime-node');
/** A session and how it came to run where it runs. */
interface Session {
  session: InferenceSession;
  provider: string;
  deviceId?: number;
  fallbacks: string[];
}
/** What every plugin module exports (wasm-inspect.ts refuses one that lacks them). */
interface PluginExports {
  rd_abi_version(): number;
  rd_alloc(size: number): number;
  [name: string]: unknown;
}
type PluginExport = (ptr: number, len: number) => bigint;

const modules = new Map<string, WebAssembly.Module>(); // wasm path → module
const sessions = new Map<string, Promise<Session>>(); // model path + options → session
let ort: Ort | null = null;

function moduleFor(path: string): WebAssembly.Module {
  let m = modules.get(path);
  if (!m) {
    m = new WebAssembly.Module(readFileSync(path));
    modules.set(path, m);
  }
  return m;
}

/** The worker's session for a model and options, and whether this call created it. */
async function sessionFor(path: string, opts: { executionProviders: ProviderSpec[]; intraOpNumThreads: number }): Promise<{ s: Session; created: boolean }> {
  const key = `${path}|${JSON.stringify(opts)}`;
  let s = sessions.get(key);
  const created = !s;
  if (!s) {
    const o = (ort ??= await import('onnxruntime-node'));
    s = (async () => {
      // The pool chose these knowing what loads in this ONNX Runtime (ort-support.ts); a session
      // can still fail for this model (an operator the provider lacks, GPU memory): then the
      // next one, and CPU last, instead of failing the task.
      const tried: string[] = [];
      for (const ep of [...opts.executionProviders.filter((e) => e.name !== 'cpu'), { name: 'cpu' } as ProviderSpec]) {
        try {
          const provider = ep.deviceId === undefined ? ep.name : { name: ep.name, deviceId: ep.deviceId };
          // Its threads do not spin between parallel sections: the cores are shared with decoding,
          // preprocessing and the other workers, which a spinning thread would take them from.
          const session = await o.InferenceSession.create(path, { executionProviders: [provider], intraOpNumThreads: opts.intraOpNumThreads, interOpNumThreads: 1, graphOptimizationLevel: 'all', extra: { session: { intra_op: { allow_spinning: '0' } } } });
          return { session, provider: ep.name, ...(ep.deviceId !== undefined ? { deviceId: ep.deviceId } : {}), fallbacks: tried };
        } catch (err) {
          if (ep.name === 'cpu') throw err;
          tried.push(`${ep.name}: ${(String((err as Error)?.message ?? err).split('\n')[0] ?? '').slice(0, 160)}`);
        }
      }
      throw new Error('unreachable: cpu is always tried last');
    })();
    sessions.set(key, s);
  }
  return { s: await s, created };
}

function readString(mem: WebAssembly.Memory, ptr: number, len: number): string {
  return new TextDecoder().decode(new Uint8Array(mem.buffer, ptr, len));
}

/** One input block, measured first and then written straight into the plugin's memory — one copy of each tensor. */
interface PlannedInput {
  size: number;
  write(mem: WebAssembly.Memory, at: number): void;
}

/** The input block (layout in plugins-sdk/include/retinad_plugin.h and abi.ts). */
function planInput(task: { width: number; height: number; ptsMs: number; args: unknown; previous?: unknown }, buffers: Uint8Array[]): PlannedInput {
  const args = new TextEncoder().encode(JSON.stringify(task.args ?? {}));
  let size = INPUT_HEADER_BYTES + args.length + 4;
  for (const b of buffers) size += 4 + b.byteLength;
  return { size, write: (mem, at) => writeInput(mem, at, task, args, buffers) };
}

function writeInput(mem: WebAssembly.Memory, at: number, task: { width: number; height: number; ptsMs: number; previous?: unknown }, args: Uint8Array, buffers: Uint8Array[]): void {
  const dv = new DataView(mem.buffer);
  const u8 = new Uint8Array(mem.buffer);
  dv.setUint32(at, INPUT_MAGIC, true);
  dv.setUint32(at + 4, task.width, true);
  dv.setUint32(at + 8, task.height, true);
  dv.setUint32(at + 12, task.previous ? 1 : 0, true);
  dv.setFloat64(at + 16, task.ptsMs ?? 0, true);
  dv.setUint32(at + 24, args.length, true);
  u8.set(args, at + INPUT_HEADER_BYTES);
  let p = at + INPUT_HEADER_BYTES + args.length;
  dv.setUint32(p, buffers.length, true);
  p += 4;
  for (const bytes of buffers) {
    dv.setUint32(p, bytes.length, true);
    u8.set(bytes, p + 4);
    p += 4 + bytes.length;
  }
}

/**
 * Plugin memories kept between calls, by module and limits. A fresh WebAssembly.Memory costs a
 * page fault and a kernel zeroing per 4 KB touched (≈ 4 ms for a 640×640 float32 tensor); a
 * kept one is zeroed by us before it is handed to the next fresh instance, so no call sees
 * another's data. Memories that grew past REUSE_MAX_BYTES are dropped, not kept.
 */
const memories = new Map<string, WebAssembly.Memory>();
const REUSE_MAX_BYTES = 64 << 20;

function memoryFor(task: WorkerTask): { key: string; memory: WebAssembly.Memory } {
  const key = `${task.wasmPath}|${task.memInitial}|${task.memMax}`;
  const kept = memories.get(key);
  memories.delete(key);
  if (kept) {
    new Uint8Array(kept.buffer).fill(0);
    return { key, memory: kept };
  }
  return { key, memory: new WebAssembly.Memory({ initial: task.memInitial, maximum: task.memMax }) };
}

/** Runs the plugin's export on one input block in a fresh, capped instance over zeroed memory. */
function callPlugin(task: WorkerTask, input: PlannedInput): string {
  const { key, memory } = memoryFor(task);
  try {
    return callIn(memory, task, input);
  } finally {
    if (memory.buffer.byteLength <= REUSE_MAX_BYTES) memories.set(key, memory);
  }
}

function callIn(memory: WebAssembly.Memory, task: WorkerTask, input: PlannedInput): string {
  const imports = pluginImports(memory);
  const instance = new WebAssembly.Instance(moduleFor(task.wasmPath), imports);
  const ex = instance.exports as unknown as PluginExports;
  const abi = ex.rd_abi_version();
  if (abi !== HOST_ABI_VERSION) throw new Error(`plugin speaks ABI ${abi}; the host speaks ABI ${HOST_ABI_VERSION}`);
  const ptr = ex.rd_alloc(input.size) >>> 0;
  if (!ptr || ptr + input.size > memory.buffer.byteLength) throw new Error('rd_alloc returned no usable memory for the input');
  input.write(memory, ptr);
  const fn = ex[task.exportName ?? 'rd_process'];
  if (typeof fn !== 'function') throw new Error(`plugin does not export ${task.exportName}`);
  const packed = BigInt.asUintN(64, (fn as PluginExport)(ptr, input.size));
  if (BigInt.asIntN(64, packed) < 0n) throw new Error(`plugin returned error code ${BigInt.asIntN(64, packed)}`);
  const outPtr = Number(packed >> 32n);
  const outLen = Number(packed & 0xffffffffn);
  if (outLen > task.maxOutputBytes) throw new Error(`plugin output of ${outLen} bytes exceeds limits.maxOutputBytes (${task.maxOutputBytes})`);
  if (outPtr + outLen > memory.buffer.byteLength) throw new Error('plugin output points outside its memory');
  return readString(memory, outPtr, outLen);
}

/**
 * The model input for `items` (one frame, or a batch stacked along the batch dimension), typed
 * as the manifest declares the tensor: a uint8 tensor is fed as uint8, not read as float32.
 * ONNX Runtime rejects SharedArrayBuffer-backed tensors, so a shared frame is copied.
 */
export function modelInput(o: Ort, items: Array<ArrayBuffer | SharedArrayBuffer>, inputDims: number[], dtype: TensorDtype): Tensor {
  const n = items.length;
  const one = inputDims.reduce((a, b) => a * b, 1);
  const dims = [n, ...inputDims.slice(1)];
  const view = (b: ArrayBuffer | SharedArrayBuffer, length?: number) => (dtype === 'uint8' ? new Uint8Array(b, 0, length) : new Float32Array(b, 0, length));
  const [only] = items;
  if (n === 1 && only) {
    const v = view(only, one);
    return dtype === 'uint8'
      ? new o.Tensor('uint8', only instanceof SharedArrayBuffer ? (v as Uint8Array).slice() : (v as Uint8Array), dims)
      : new o.Tensor('float32', only instanceof SharedArrayBuffer ? (v as Float32Array).slice() : (v as Float32Array), dims);
  }
  if (dtype === 'uint8') {
    const data = new Uint8Array(one * n);
    items.forEach((b, i) => data.set(new Uint8Array(b, 0, one), i * one));
    return new o.Tensor('uint8', data, dims);
  }
  const data = new Float32Array(one * n);
  items.forEach((b, i) => data.set(new Float32Array(b, 0, one), i * one));
  return new o.Tensor('float32', data, dims);
}

/** Runs one model on the stacked inputs and hands each frame its slice of every output. */
async function runModel(m: WorkerModel, task: WorkerTask, items: Array<ArrayBuffer | SharedArrayBuffer>, perItemBuffers: Uint8Array[][], perItemTensors: Array<Array<{ name: string; dims: number[] }>>): Promise<{ ms: number; use: ProviderUse }> {
  // The host is told while ONNX Runtime works: terminating this worker then would abort the process.
  const inOrt = task.inOrt ? new Int32Array(task.inOrt) : null;
  if (inOrt) Atomics.store(inOrt, 0, 1);
  let s: Session, created: boolean, out: Record<string, Tensor>, ms: number;
  try {
    ({ s, created } = await sessionFor(m.path, { executionProviders: m.ep ?? [], intraOpNumThreads: m.threads ?? 1 }));
    const feed = modelInput(ort!, items, task.inputDims, task.dtype ?? 'float32');
    const t0 = performance.now();
    out = await s.session.run({ [m.inputName]: feed });
    ms = performance.now() - t0;
  } finally {
    if (inOrt) Atomics.store(inOrt, 0, 0);
  }
  const n = items.length;
  for (const name of m.outputNames) {
    const t = out[name];
    if (!t) throw new Error(`model ${m.path}: no output named "${name}"`);
    const d = t.dims.map(Number);
    const data = t.data as Float32Array | Uint8Array;
    const per = data.length / n;
    // perItemBuffers and perItemTensors have one entry per item, n of them.
    for (let i = 0; i < n; i++) {
      const slice = data.subarray(i * per, (i + 1) * per);
      perItemBuffers[i]!.push(new Uint8Array(slice.buffer, slice.byteOffset, slice.byteLength));
      perItemTensors[i]!.push({ name, dims: [1, ...d.slice(1)] });
    }
  }
  return { ms, use: { model: m.path.split('/').pop() ?? m.path, provider: s.provider, ...(s.deviceId !== undefined ? { deviceId: s.deviceId } : {}), fallbacks: s.fallbacks, sessionCreated: created } };
}

/**
 * One call, or a batch: models run once on all inputs stacked along the batch dimension
 * (dynamic batching across streams), then the plugin runs once per item on its slice of the
 * outputs. A batch answers with one result (or error) per item.
 */
export default async function run(task: WorkerTask): Promise<WorkerReply> {
  const t0 = performance.now();
  // Tell the host the call has started: its deadline counts from here, not from the queue.
  task.port?.postMessage('start');
  task.port?.close();
  const items = task.inputs ?? [task.input];
  const n = items.length;
  const perItemTensors = Array.from({ length: n }, () => [] as Array<{ name: string; dims: number[] }>);
  // [0] is the input tensor, or nothing for a plugin that reads only its models' outputs.
  const perItemBuffers = items.map((b) => [task.frameToPlugin === false ? new Uint8Array(0) : new Uint8Array(b)]);
  if (task.previous && n === 1) perItemBuffers[0]?.push(new Uint8Array(task.previous));
  const providers: ProviderUse[] = [];
  let inferMs = 0;
  for (const m of task.models ?? []) {
    const r = await runModel(m, task, items, perItemBuffers, perItemTensors);
    inferMs += r.ms;
    providers.push(r.use);
  }
  const tp = performance.now();
  const outputs = perItemBuffers.map((buffers, i) => {
    const itemArgs = task.argsList ? task.argsList[i] : task.args;
    const tensors = perItemTensors[i] ?? [];
    const args = tensors.length ? { ...(itemArgs ?? {}), __tensors: tensors } : itemArgs;
    const ptsMs = task.ptsList ? task.ptsList[i] : task.ptsMs;
    // The pool sends one pts per input; a shorter list is a bug on its side, not a frame without time.
    if (ptsMs === undefined) throw new Error(`batch of ${n}: no pts for item ${i} (ptsList has ${task.ptsList?.length})`);
    try {
      return { ok: true, text: callPlugin(task, planInput({ width: task.width, height: task.height, ptsMs, args, previous: i === 0 && n === 1 ? task.previous : undefined }, buffers)) };
    } catch (err) {
      if (n === 1) throw err;
      return { ok: false, error: String((err as Error)?.message ?? err) };
    }
  });
  const postMs = performance.now() - tp;
  const totalMs = performance.now() - t0;
  const [only] = outputs;
  const reply: WorkerReply = n === 1 && !task.inputs && only ? { output: only.text, inferMs, postMs, totalMs, providers } : { outputs, inferMs, postMs, totalMs, providers };
  // The models and the plugin are done with the inputs: the host may have them back.
  const returned = items.map((b) => (b instanceof ArrayBuffer && b.byteLength > 0 ? b : null));
  if (returned.some((b) => b !== null)) reply.returned = returned;
  return reply;
}

/**
 * What the pool runs (Piscina's `name`): `run`, with the input buffers moved back to the host
 * in the reply (transferred, no copy) instead of being freed here and allocated there again.
 */
export async function runAndGiveBack(task: WorkerTask): Promise<WorkerReply> {
  const reply = await run(task);
  const moved = (reply.returned ?? []).filter((b): b is ArrayBuffer => b !== null);
  if (!moved.length) return reply;
  return move({ [transferableSymbol]: moved, [valueSymbol]: reply }) as unknown as WorkerReply;
}
