/**
 * The sandbox worker feeds a model its input as the manifest declares the tensor: a uint8 input
 * reaches ONNX Runtime as uint8 (it used to be read as float32 whatever the manifest said, so a
 * uint8 model could never run), and float32 stays float32.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import run from '../../src/plugins/sandbox-worker.ts';
import { inspectWasm } from '../../src/plugins/wasm-inspect.ts';
import type { TensorDtype, WorkerTask } from '../../src/plugins/worker-task.ts';

/** Protobuf, just enough for a one-node ONNX model (as src/plugins/peak.ts builds its MatMul). */
const varint = (n: number): number[] => { const o: number[] = []; do { let b = n & 0x7f; n = Math.floor(n / 128); if (n) b |= 0x80; o.push(b); } while (n); return o; };
const tag = (field: number, wt: number) => varint(field * 8 + wt);
const bytes = (field: number, b: number[]) => [...tag(field, 2), ...varint(b.length), ...b];
const text = (field: number, s: string) => bytes(field, [...Buffer.from(s)]);
const int = (field: number, n: number) => [...tag(field, 0), ...varint(n)];
const ELEM: Record<TensorDtype, number> = { float32: 1, uint8: 2 };

/** y = Identity(x) over a tensor of `dtype` and `dims`. */
function identityModel(dtype: TensorDtype, dims: number[]): Uint8Array {
  const info = (name: string) => [...text(1, name), ...bytes(2, bytes(1, [...int(1, ELEM[dtype]), ...bytes(2, dims.flatMap((d) => bytes(1, int(1, d))))]))];
  const node = [...text(1, 'x'), ...text(2, 'y'), ...text(4, 'Identity')];
  const graph = [...bytes(1, node), ...text(2, 'id'), ...bytes(11, info('x')), ...bytes(12, info('y'))];
  return Uint8Array.from([...int(1, 8), ...bytes(8, [...text(1, ''), ...int(2, 13)]), ...bytes(7, graph)]);
}

const wasmPath = path.resolve(import.meta.dirname, '..', 'fixtures', 'plugins', 'echo', 'build', 'plugin.wasm');
const dir = mkdtempSync(path.join(os.tmpdir(), 'retinad-dtype-'));

function task(dtype: TensorDtype, modelPath: string, input: ArrayBuffer, dims: number[]): WorkerTask {
  const shape = inspectWasm(readFileSync(wasmPath), 16);
  return {
    wasmPath, memInitial: shape.memoryInitialPages, memMax: 16, maxOutputBytes: 4096, exportName: 'rd_process',
    width: 32, height: 24, ptsMs: 0, args: {}, frameToPlugin: true, input, inputDims: dims, dtype,
    models: [{ path: modelPath, inputName: 'x', outputNames: ['y'], ep: [], threads: 1 }],
  };
}

t.test('a uint8 input tensor reaches a uint8 model as uint8', async (t) => {
  const dims = [1, 24, 32, 3];
  const modelPath = path.join(dir, 'identity-u8.onnx');
  writeFileSync(modelPath, identityModel('uint8', dims));
  const frame = Uint8Array.from({ length: 24 * 32 * 3 }, (_, i) => i % 251);
  const sum = frame.reduce((a, b) => a + b, 0);
  const r = await run(task('uint8', modelPath, frame.slice().buffer, dims));
  t.equal(r.providers.length, 1, 'the model ran');
  const out = JSON.parse(r.output ?? '') as { Results: Array<{ ResultData: { Bytes: number; Sum: number } }> };
  t.equal(out.Results[0]?.ResultData.Bytes, frame.length, 'the plugin got the frame');
  t.equal(out.Results[0]?.ResultData.Sum, sum, 'byte for byte');
});

t.test('a float32 input tensor still reaches a float32 model as float32', async (t) => {
  const dims = [1, 3, 24, 32];
  const modelPath = path.join(dir, 'identity-f32.onnx');
  writeFileSync(modelPath, identityModel('float32', dims));
  const frame = Float32Array.from({ length: 3 * 24 * 32 }, (_, i) => i / 10);
  const r = await run(task('float32', modelPath, frame.slice().buffer, dims));
  t.equal(r.providers.length, 1, 'the model ran');
  const out = JSON.parse(r.output ?? '') as { Results: Array<{ ResultData: { Bytes: number } }> };
  t.equal(out.Results[0]?.ResultData.Bytes, frame.byteLength);
});
