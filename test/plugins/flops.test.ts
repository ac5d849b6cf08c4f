/** The "TOPS utilisation" inputs: FLOPs counted from an ONNX graph, and a peak measured with ONNX Runtime. */
import t from 'tap';
import path from 'node:path';
import { countFlops } from '../../src/plugins/onnx-flops.ts';
import { matmulModel, measurePeakGflops } from '../../src/plugins/peak.ts';
import { defined } from '../helpers/defined.ts';

const assets = path.resolve(import.meta.dirname, '..', '..', 'node_modules', '@gutenye', 'ocr-models', 'assets');

t.test('FLOPs of PP-OCRv4 detection scale with the input area and are a few GFLOP at 640²', async (t) => {
  const big = countFlops(path.join(assets, 'ch_PP-OCRv4_det_infer.onnx'), 640, 640);
  const small = countFlops(path.join(assets, 'ch_PP-OCRv4_det_infer.onnx'), 320, 320);
  t.ok(big.gflops > 2 && big.gflops < 10, `${big.gflops.toFixed(2)} GFLOP at 640×640 over ${big.convs} convolutions`);
  t.ok(Math.abs(big.gflops / small.gflops - 4) < 0.3, `×${(big.gflops / small.gflops).toFixed(2)} for ×4 the pixels`);
  t.strictSame(big.uncounted, [], 'every spatial operator understood');
});

t.test('the in-memory MatMul model computes A×B, and the peak is 2·n³ FLOPs over the best run', async (t) => {
  const ort = await import('onnxruntime-node');
  const s = await ort.InferenceSession.create(matmulModel(4));
  const a = new ort.Tensor('float32', Float32Array.from({ length: 16 }, (_, i) => i), [4, 4]);
  const id = new ort.Tensor('float32', Float32Array.from({ length: 16 }, (_, i) => (i % 5 === 0 ? 1 : 0)), [4, 4]);
  const c = defined((await s.run({ A: a, B: id })).C, 'the output C');
  t.strictSame(Array.from(c.data as Float32Array), Array.from(a.data as Float32Array), 'A × I = A');
  // The peak is 2·n³ FLOPs over the best run's time. How fast this machine is is for bench/; here
  // the clock is replaced by one where every run takes 100 ms, so the arithmetic is checked exactly.
  const realNow = performance.now;
  let fake = 0;
  performance.now = () => (fake += 100); // each reading 100 ms after the one before: a run takes 100 ms
  let peak: number;
  try { peak = await measurePeakGflops(1, 256, 2); } finally { performance.now = realNow; }
  t.equal(peak, (2 * 256 ** 3) / 0.1 / 1e9, `${peak.toFixed(4)} GFLOP/s for a 256² MatMul measured at 100 ms`);
});
