/**
 * The Piscina worker that runs training calls (`rd_train`). The same sandbox as inference
 * (sandbox-worker.ts): a fresh WebAssembly instance over a memory capped by the manifest, whose
 * only imports are `env.memory`, `env.abort`, `env.seed` (constant) and `rd.rd_log` — no
 * filesystem, network, environment or clock. It needs no ONNX Runtime, so an overrun may
 * terminate it at any moment; the reply is the plugin's bytes, parsed and checked by the host.
 */
import { readFileSync } from 'node:fs';
import { HOST_ABI_VERSION, INPUT_HEADER_BYTES, INPUT_MAGIC } from './abi.ts';
import { pluginImports } from './wasm-imports.ts';

/** One training call: the input block's parts, as the host lays them out (abi.ts). */
export interface TrainCall {
  wasmPath: string;
  memInitial: number;
  memMax: number;
  maxOutputBytes: number;
  exportName: string;
  /** Feature dimension (the block's width) and classes (its height). */
  dim: number;
  classes: number;
  args: Record<string, unknown>;
  /** features f32, labels u8 (actions, for Objective "reward"), weights f32, bias f32, and with Objective "reward" rewards f32. */
  buffers: Uint8Array[];
}

const modules = new Map<string, WebAssembly.Module>();

/** Runs the training export once and returns its output bytes. */
export default function train(c: TrainCall): Uint8Array {
  const memory = new WebAssembly.Memory({ initial: c.memInitial, maximum: c.memMax });
  const imports = pluginImports(memory);
  let m = modules.get(c.wasmPath);
  if (!m) { m = new WebAssembly.Module(readFileSync(c.wasmPath)); modules.set(c.wasmPath, m); }
  const ex = new WebAssembly.Instance(m, imports).exports as Record<string, unknown>;
  const abi = (ex.rd_abi_version as () => number)();
  if (abi !== HOST_ABI_VERSION) throw new Error(`plugin speaks ABI ${abi}; the host speaks ABI ${HOST_ABI_VERSION}`);
  const fn = ex[c.exportName];
  if (typeof fn !== 'function') throw new Error(`plugin does not export ${c.exportName} (the training ABI)`);
  const args = new TextEncoder().encode(JSON.stringify(c.args));
  const size = INPUT_HEADER_BYTES + args.length + 4 + c.buffers.reduce((s, b) => s + 4 + b.byteLength, 0);
  const ptr = (ex.rd_alloc as (n: number) => number)(size) >>> 0;
  if (!ptr || ptr + size > memory.buffer.byteLength) throw new Error('rd_alloc returned no usable memory for the input');
  const dv = new DataView(memory.buffer);
  const u8 = new Uint8Array(memory.buffer);
  dv.setUint32(ptr, INPUT_MAGIC, true);
  dv.setUint32(ptr + 4, c.dim, true);
  dv.setUint32(ptr + 8, c.classes, true);
  dv.setUint32(ptr + 12, 0, true);
  dv.setFloat64(ptr + 16, 0, true);
  dv.setUint32(ptr + 24, args.length, true);
  u8.set(args, ptr + INPUT_HEADER_BYTES);
  let p = ptr + INPUT_HEADER_BYTES + args.length;
  dv.setUint32(p, c.buffers.length, true);
  p += 4;
  for (const b of c.buffers) { dv.setUint32(p, b.byteLength, true); u8.set(b, p + 4); p += 4 + b.byteLength; }
  const packed = BigInt.asUintN(64, (fn as (a: number, b: number) => bigint)(ptr, size));
  if (BigInt.asIntN(64, packed) < 0n) throw new Error(`plugin returned error code ${BigInt.asIntN(64, packed)}`);
  const outPtr = Number(packed >> 32n);
  const outLen = Number(packed & 0xffffffffn);
  if (outLen > c.maxOutputBytes) throw new Error(`plugin output of ${outLen} bytes exceeds limits.maxOutputBytes (${c.maxOutputBytes})`);
  if (outPtr + outLen > memory.buffer.byteLength) throw new Error('plugin output points outside its memory');
  return new Uint8Array(memory.buffer, outPtr, outLen).slice();
}
