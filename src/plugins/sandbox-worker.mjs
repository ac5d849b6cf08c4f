// The Piscina worker that runs plugin calls. Plain JavaScript on purpose: worker threads do not
// inherit the TypeScript loader registered in the main thread.
//
// Each call gets a fresh WebAssembly instance whose only imports are the ABI functions and a
// memory the host created with the manifest's cap: no filesystem, network, environment or
// clock. ONNX Runtime sessions are created once per model per worker and reused.
import { readFileSync } from 'node:fs';

const ABI = 1;
const modules = new Map(); // wasm path → WebAssembly.Module
const sessions = new Map(); // model path + options → Promise<InferenceSession>
let ort = null;

function moduleFor(path) {
  let m = modules.get(path);
  if (!m) {
    m = new WebAssembly.Module(readFileSync(path));
    modules.set(path, m);
  }
  return m;
}

/** The worker's session for a model and options, and whether this call created it. */
async function sessionFor(path, opts) {
  const key = `${path}|${JSON.stringify(opts)}`;
  let s = sessions.get(key);
  const created = !s;
  if (!s) {
    ort ??= await import('onnxruntime-node');
    s = (async () => {
      // Execution providers in order; a failed accelerator falls back to CPU instead of failing the task.
      const tried = [];
      for (const ep of [...(opts.executionProviders ?? []).filter((e) => e !== 'cpu'), 'cpu']) {
        try {
          const s = await ort.InferenceSession.create(path, { executionProviders: [ep], intraOpNumThreads: opts.intraOpNumThreads ?? 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
          s.retinadProvider = ep;
          s.retinadFallbacks = tried;
          return s;
        } catch (err) {
          if (ep === 'cpu') throw err;
          tried.push(`${ep}: ${String(err?.message ?? err).split('\n')[0].slice(0, 160)}`);
        }
      }
    })();
    sessions.set(key, s);
  }
  return { session: await s, created };
}

function readString(mem, ptr, len) {
  return new TextDecoder().decode(new Uint8Array(mem.buffer, ptr, len));
}

/** AssemblyScript strings: UTF-16 with the byte length at ptr - 4. */
function readAsString(mem, ptr) {
  if (!ptr) return '';
  const len = new Uint32Array(mem.buffer, ptr - 4, 1)[0];
  return String.fromCharCode(...new Uint16Array(mem.buffer, ptr, Math.min(len, 512) >> 1));
}

/**
 * The input block (layout in plugins-sdk/include/retinad_plugin.h), measured first and then
 * written straight into the plugin's memory by `writeInput` — one copy of each tensor.
 */
function planInput(task, buffers) {
  const args = new TextEncoder().encode(JSON.stringify(task.args ?? {}));
  let size = 28 + args.length + 4;
  for (const b of buffers) size += 4 + b.byteLength;
  return { size, args, buffers, write: (mem, at) => writeInput(mem, at, task, args, buffers) };
}

function writeInput(mem, at, task, args, buffers) {
  const dv = new DataView(mem.buffer);
  const u8 = new Uint8Array(mem.buffer);
  dv.setUint32(at, 0x31494452, true);
  dv.setUint32(at + 4, task.width, true);
  dv.setUint32(at + 8, task.height, true);
  dv.setUint32(at + 12, task.previous ? 1 : 0, true);
  dv.setFloat64(at + 16, task.ptsMs ?? 0, true);
  dv.setUint32(at + 24, args.length, true);
  u8.set(args, at + 28);
  let p = at + 28 + args.length;
  dv.setUint32(p, buffers.length, true);
  p += 4;
  for (const b of buffers) {
    const bytes = b instanceof Uint8Array ? b : new Uint8Array(b.buffer ?? b, b.byteOffset ?? 0, b.byteLength);
    dv.setUint32(p, bytes.length, true);
    u8.set(bytes, p + 4);
    p += 4 + bytes.length;
  }
}

/**
 * One call: optional model inference on the input tensor, then the plugin's rd_process.
 * task: { wasmPath, memInitial, memMax, maxOutputBytes, width, height, ptsMs, args,
 *         input: ArrayBuffer|SharedArrayBuffer, inputDims, previous?: same, models: [{ path, inputName, outputNames, ep, threads }] }
 */
/**
 * Plugin memories kept between calls, by module and limits. A fresh WebAssembly.Memory costs a
 * page fault and a kernel zeroing per 4 KB touched (≈ 4 ms for a 640×640 float32 tensor); a
 * kept one is zeroed by us before it is handed to the next fresh instance, so no call sees
 * another's data. Memories that grew past REUSE_MAX_BYTES are dropped, not kept.
 */
const memories = new Map();
const REUSE_MAX_BYTES = 64 << 20;

function memoryFor(task) {
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
function callPlugin(task, input) {
  const { key, memory } = memoryFor(task);
  try {
    return callIn(memory, task, input);
  } finally {
    if (memory.buffer.byteLength <= REUSE_MAX_BYTES) memories.set(key, memory);
  }
}

function callIn(memory, task, input) {
  let logged = 0;
  const imports = {
    env: {
      memory,
      abort(msg, file, line, col) {
        throw new Error(`plugin aborted: ${readAsString(memory, msg)} at ${readAsString(memory, file)}:${line}:${col}`);
      },
      seed: () => 0x5eed, // no entropy or clock from the host: deterministic
    },
    rd: {
      rd_log(ptr, len) {
        if (logged++ < 20) console.error(`[plugin] ${readString(memory, ptr, Math.min(len, 1000))}`);
      },
    },
  };
  const instance = new WebAssembly.Instance(moduleFor(task.wasmPath), imports);
  const ex = instance.exports;
  const abi = ex.rd_abi_version();
  if (abi !== ABI) throw new Error(`plugin speaks ABI ${abi}; the host speaks ABI ${ABI}`);
  const ptr = ex.rd_alloc(input.size) >>> 0;
  if (!ptr || ptr + input.size > memory.buffer.byteLength) throw new Error('rd_alloc returned no usable memory for the input');
  input.write(memory, ptr);
  const fn = ex[task.exportName ?? 'rd_process'];
  if (typeof fn !== 'function') throw new Error(`plugin does not export ${task.exportName}`);
  const packed = BigInt.asUintN(64, fn(ptr, input.size));
  if (BigInt.asIntN(64, packed) < 0n) throw new Error(`plugin returned error code ${BigInt.asIntN(64, packed)}`);
  const outPtr = Number(packed >> 32n);
  const outLen = Number(packed & 0xffffffffn);
  if (outLen > task.maxOutputBytes) throw new Error(`plugin output of ${outLen} bytes exceeds limits.maxOutputBytes (${task.maxOutputBytes})`);
  if (outPtr + outLen > memory.buffer.byteLength) throw new Error('plugin output points outside its memory');
  return readString(memory, outPtr, outLen);
}

/**
 * One call, or a batch: models run once on all inputs stacked along the batch dimension
 * (dynamic batching across streams), then the plugin runs once per item on its slice of the
 * outputs. A batch answers with one result (or error) per item.
 * task: { wasmPath, memInitial, memMax, maxOutputBytes, exportName, width, height, ptsMs, args,
 *         input | inputs[], inputDims, previous?, models: [{ path, inputName, outputNames, ep, threads }], port? }
 */
export default async function run(task) {
  const t0 = performance.now();
  // Tell the host the call has started: its deadline counts from here, not from the queue.
  task.port?.postMessage('start');
  task.port?.close();
  const items = task.inputs ?? [task.input];
  const n = items.length;
  const perItemTensors = Array.from({ length: n }, () => []);
  // [0] is the input tensor, or nothing for a plugin that reads only its models' outputs.
  const perItemBuffers = items.map((b) => [task.frameToPlugin === false ? new Uint8Array(0) : new Uint8Array(b)]);
  if (task.previous && n === 1) perItemBuffers[0].push(new Uint8Array(task.previous));
  const providers = [];
  let inferMs = 0;
  for (const m of task.models ?? []) {
    const { session: s, created } = await sessionFor(m.path, { executionProviders: m.ep ?? [], intraOpNumThreads: m.threads ?? 1 });
    // ONNX Runtime rejects SharedArrayBuffer-backed tensors; a batch is stacked into one buffer.
    const one = task.inputDims.reduce((a, b) => a * b, 1);
    let data;
    if (n === 1) data = items[0] instanceof SharedArrayBuffer ? new Float32Array(items[0]).slice() : new Float32Array(items[0]);
    else {
      data = new Float32Array(one * n);
      items.forEach((b, i) => data.set(new Float32Array(b, 0, one), i * one));
    }
    const dims = [n, ...task.inputDims.slice(1)];
    const ti = performance.now();
    const out = await s.run({ [m.inputName]: new ort.Tensor('float32', data, dims) });
    inferMs += performance.now() - ti;
    providers.push({ model: m.path.split('/').pop(), provider: s.retinadProvider, fallbacks: s.retinadFallbacks, sessionCreated: created });
    for (const name of m.outputNames) {
      const t = out[name];
      const d = t.dims.map(Number);
      const per = t.data.length / n;
      for (let i = 0; i < n; i++) {
        const slice = t.data.subarray(i * per, (i + 1) * per);
        perItemBuffers[i].push(new Uint8Array(slice.buffer, slice.byteOffset, slice.byteLength));
        perItemTensors[i].push({ name, dims: [1, ...d.slice(1)] });
      }
    }
  }
  const tp = performance.now();
  const outputs = perItemBuffers.map((buffers, i) => {
    const itemArgs = task.argsList ? task.argsList[i] : task.args;
    const args = perItemTensors[i].length ? { ...(itemArgs ?? {}), __tensors: perItemTensors[i] } : itemArgs;
    const ptsMs = task.ptsList ? task.ptsList[i] : task.ptsMs;
    try {
      return { ok: true, text: callPlugin(task, planInput({ ...task, ptsMs, args, previous: i === 0 && n === 1 ? task.previous : undefined }, buffers)) };
    } catch (err) {
      if (n === 1) throw err;
      return { ok: false, error: String(err?.message ?? err) };
    }
  });
  const postMs = performance.now() - tp;
  const totalMs = performance.now() - t0;
  if (n === 1 && !task.inputs) return { output: outputs[0].text, inferMs, postMs, totalMs, providers };
  return { outputs, inferMs, postMs, totalMs, providers };
}
