/**
 * DC6: a classifier head compressed for a device. Written with int8 weights and a scale per class,
 * the model loads in ONNX Runtime (DequantizeLinear, per-axis), takes about a quarter of the
 * bytes, gives probabilities within a quantisation step of the float model's and the same
 * arg-max on generated frames; it reads back to the weights inference uses, within half a step.
 */
import t from 'tap';
import * as ort from 'onnxruntime-node';
import { quantizeInt8, readClassifierOnnx, writeClassifierOnnx, type ClassifierWeights } from '../../src/plugins/onnx-writer.ts';

const H = 20, W = 20, DIM = H * W, CLASSES = 10;
// A head shaped like a trained one: smooth templates per class, small biases (deterministic).
const head: ClassifierWeights = {
  dim: DIM, classes: CLASSES,
  weights: Float32Array.from({ length: DIM * CLASSES }, (_, i) => { const d = Math.floor(i / CLASSES), c = i % CLASSES; return 0.8 * Math.sin(d * 0.13 * (c + 1)) * Math.cos(d * 0.029 + c); }),
  bias: Float32Array.from({ length: CLASSES }, (_, c) => 0.05 * (c - 4.5)),
};

t.test('DC6: int8 compression — a quarter of the bytes, the float model\'s answers', async (t) => {
  const float = writeClassifierOnnx(head, { channels: 3, height: H, width: W });
  const int8 = writeClassifierOnnx(head, { channels: 3, height: H, width: W }, '', 'int8');
  t.ok(int8.length < float.length * 0.3, `${int8.length} bytes against ${float.length} (${((100 * int8.length) / float.length).toFixed(0)} %)`);

  // Read back: the weights DequantizeLinear gives, each within half a step of the original.
  const { scale } = quantizeInt8(head);
  const back = readClassifierOnnx(int8);
  let worst = 0;
  back.weights.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - head.weights[i]!) / scale[i % CLASSES]!); });
  t.ok(worst <= 0.5 + 1e-4, `read back within ${worst.toFixed(3)} of a step (≤ 0.5)`);
  t.strictSame(Array.from(back.bias), Array.from(head.bias), 'biases stay float');

  const n = 256;
  const x = Float32Array.from({ length: n * 3 * DIM }, (_, i) => (Math.sin(i * 12.9898) * 43758.5453) % 1 * 0.5 + 0.5);
  const run = async (m: Buffer) => (await (await ort.InferenceSession.create(m)).run({ frame: new ort.Tensor('float32', x, [n, 3, H, W]) })).probs!.data as Float32Array;
  const [pf, pq] = [await run(float), await run(int8)];
  let agree = 0, maxDiff = 0;
  for (let i = 0; i < n; i++) {
    const a = Array.from(pf.subarray(i * CLASSES, (i + 1) * CLASSES)), b = Array.from(pq.subarray(i * CLASSES, (i + 1) * CLASSES));
    if (a.indexOf(Math.max(...a)) === b.indexOf(Math.max(...b))) agree++;
    a.forEach((v, c) => { maxDiff = Math.max(maxDiff, Math.abs(v - b[c]!)); });
  }
  t.ok(agree >= n * 0.98, `the same arg-max on ${agree} of ${n} generated frames`);
  t.ok(maxDiff < 0.05, `probabilities within ${maxDiff.toFixed(4)} of the float model's`);
  // The graph's meaning is the read-back float weights: with ONNX Runtime's optimisations off the
  // two give the same probabilities. (With them on, as plugins run, ONNX Runtime fuses
  // DequantizeLinear into an integer Gemm that quantises the activations too: the small
  // difference measured above.)
  const plain = async (m: Buffer) => (await (await ort.InferenceSession.create(m, { graphOptimizationLevel: 'disabled' })).run({ frame: new ort.Tensor('float32', x, [n, 3, H, W]) })).probs!.data as Float32Array;
  const [a, b] = [await plain(int8), await plain(writeClassifierOnnx(back, { channels: 3, height: H, width: W }))];
  let same = 0;
  a.forEach((v, i) => { same = Math.max(same, Math.abs(v - b[i]!)); });
  t.ok(same < 1e-5, `the read-back float weights are the compressed graph's (max diff ${same.toExponential(1)})`);
});
