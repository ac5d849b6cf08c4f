/**
 * The machine's measured peak for the "TOPS utilisation" figure: ONNX Runtime itself runs a
 * large float32 MatMul (a model built here, in memory) with all cores; the best of a few runs
 * is the achievable GFLOP/s.
 */
import './ort-env.ts';

/** Protobuf encoding helpers, just enough for a one-node ONNX model. */
const varint = (n: number): number[] => { const o: number[] = []; do { let b = n & 0x7f; n = Math.floor(n / 128); if (n) b |= 0x80; o.push(b); } while (n); return o; };
const tag = (field: number, wt: number) => varint(field * 8 + wt);
const bytes = (field: number, b: number[]) => [...tag(field, 2), ...varint(b.length), ...b];
const text = (field: number, s: string) => bytes(field, [...Buffer.from(s)]);
const int = (field: number, n: number) => [...tag(field, 0), ...varint(n)];

function valueInfo(name: string, dims: number[]): number[] {
  const shape = dims.flatMap((d) => bytes(1, int(1, d)));
  return [...text(1, name), ...bytes(2, bytes(1, [...int(1, 1 /* FLOAT */), ...bytes(2, shape)]))];
}

/** An ONNX model computing C = A × B for n×n float32 matrices. */
export function matmulModel(n: number): Uint8Array {
  const node = [...text(1, 'A'), ...text(1, 'B'), ...text(2, 'C'), ...text(4, 'MatMul')];
  const graph = [...bytes(1, node), ...text(2, 'peak'), ...bytes(11, valueInfo('A', [n, n])), ...bytes(11, valueInfo('B', [n, n])), ...bytes(12, valueInfo('C', [n, n]))];
  const model = [...int(1, 8), ...bytes(8, [...text(1, ''), ...int(2, 13)]), ...bytes(7, graph)];
  return Uint8Array.from(model);
}

/** Best GFLOP/s of a float32 n×n MatMul in ONNX Runtime with `threads` intra-op threads. */
export async function measurePeakGflops(threads: number, n = 1024, runs = 6): Promise<number> {
  const ort = await import('onnxruntime-node');
  const s = await ort.InferenceSession.create(matmulModel(n), { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const a = new ort.Tensor('float32', new Float32Array(n * n).fill(0.5), [n, n]);
  const b = new ort.Tensor('float32', new Float32Array(n * n).fill(0.25), [n, n]);
  await s.run({ A: a, B: b });
  let best = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await s.run({ A: a, B: b });
    best = Math.max(best, (2 * n ** 3) / ((performance.now() - t0) / 1000) / 1e9);
  }
  await s.release();
  return best;
}
