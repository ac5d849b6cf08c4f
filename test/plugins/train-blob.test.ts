/**
 * DC3, EC7: the learning loop's bytes. The ONNX writer's models load in ONNX Runtime and compute
 * softmax(grey · W + b); they read back to the same weights; the host's own accuracy agrees with
 * ONNX Runtime. Malformed weights blocks, sample sets and weights are refused naming the field.
 */
import t from 'tap';
import * as ort from 'onnxruntime-node';
import { readClassifierOnnx, writeClassifierOnnx } from '../../src/plugins/onnx-writer.ts';
import { decodeSamples, decodeWeightsBlock, encodeSamples, weightsFromBase64, weightsToBase64, WEIGHTS_MAGIC } from '../../src/plugins/train-blob.ts';
import { headAccuracy } from '../../src/plugins/head-eval.ts';

const dim = 16, classes = 3;
const w = { dim, classes, weights: Float32Array.from({ length: dim * classes }, (_, i) => Math.sin(i) / 2), bias: Float32Array.from([0.1, -0.2, 0.05]) };

t.test('DC3: a written classifier head runs in ONNX Runtime as softmax(grey · W + b) and reads back the same', async (t) => {
  const onnx = writeClassifierOnnx(w, { channels: 3, height: 4, width: 4 });
  const back = readClassifierOnnx(onnx);
  t.strictSame(Array.from(back.weights), Array.from(w.weights));
  t.strictSame(Array.from(back.bias), Array.from(w.bias));
  const s = await ort.InferenceSession.create(onnx);
  const n = 5;
  const x = Float32Array.from({ length: n * 3 * dim }, (_, i) => ((i * 7) % 11) / 11);
  const probs = (await s.run({ frame: new ort.Tensor('float32', x, [n, 3, 4, 4]) })).probs!.data as Float32Array;
  const grey = Float32Array.from({ length: n * dim }, (_, k) => { const i = Math.floor(k / dim), j = k % dim; return (x[i * 3 * dim + j]! + x[i * 3 * dim + dim + j]! + x[i * 3 * dim + 2 * dim + j]!) / 3; });
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: classes }, (_, c) => w.bias[c]! + Array.from({ length: dim }, (_, d) => grey[i * dim + d]! * w.weights[d * classes + c]!).reduce((a, b) => a + b));
    const e = z.map((v) => Math.exp(v - Math.max(...z)));
    const sum = e.reduce((a, b) => a + b);
    e.forEach((v, c) => t.ok(Math.abs(v / sum - probs[i * classes + c]!) < 1e-5, `sample ${i} class ${c}`));
  }
  // The host's accuracy (used for MinAccuracy) matches ONNX Runtime's arg-max.
  const labels = Uint8Array.from({ length: n }, (_, i) => { const p = Array.from(probs.subarray(i * classes, (i + 1) * classes)); return p.indexOf(Math.max(...p)); });
  t.equal(headAccuracy(w, { dim, classes, features: grey, labels }), 1);
});

t.test('EC7: malformed weights blocks, sample sets and weights are refused naming the field and the rule', async (t) => {
  const block = (o: { magic?: number; d?: number; c?: number; metrics?: string; extra?: number; nan?: boolean } = {}) => {
    const m = Buffer.from(o.metrics ?? '{"Loss":0.5}');
    const b = Buffer.alloc(16 + (dim * classes + classes) * 4 + m.length + (o.extra ?? 0));
    b.writeUInt32LE(o.magic ?? WEIGHTS_MAGIC, 0); b.writeUInt32LE(o.d ?? dim, 4); b.writeUInt32LE(o.c ?? classes, 8); b.writeUInt32LE(m.length, 12);
    if (o.nan) b.writeFloatLE(Number.NaN, 16);
    m.copy(b, 16 + (dim * classes + classes) * 4);
    return b;
  };
  t.equal(decodeWeightsBlock(block(), { dim, classes }).metrics.Loss, 0.5);
  t.throws(() => decodeWeightsBlock(block({ magic: 1 })), /weights block: does not start with "RDW1"/);
  t.throws(() => decodeWeightsBlock(block({ extra: 4 })), /weights block: \d+ bytes, its header .* needs exactly/);
  t.throws(() => decodeWeightsBlock(block({ d: 8 }), { dim, classes }), /weights block: 8×3, the task trains 16×3/);
  t.throws(() => decodeWeightsBlock(block({ nan: true })), /value 0 is not finite \(training diverged; lower LearningRate\)/);
  t.throws(() => decodeWeightsBlock(block({ metrics: '[1]' })), /metrics must be a JSON object/);
  t.throws(() => decodeWeightsBlock(new Uint8Array(3)), /shorter than the 16-byte header/);
  const set = { dim, classes, features: new Float32Array(2 * dim), labels: Uint8Array.from([0, 2]) };
  t.same(decodeSamples(encodeSamples(set)).labels, set.labels);
  const bad = encodeSamples(set); bad[bad.length - 1] = 7;
  t.throws(() => decodeSamples(bad), /samples\.labels\[1\]: 7 is not a class below 3/);
  t.throws(() => decodeSamples(encodeSamples(set).subarray(0, 40)), /samples: 40 bytes, the header \(count 2, dim 16\) needs exactly/);
  t.throws(() => encodeSamples({ ...set, features: new Float32Array(5) }), /samples\.features: 5 values, must be count × dim = 32/);
  t.strictSame(Array.from(weightsFromBase64('TrainedModel.Weights', weightsToBase64(w), dim, classes).bias), Array.from(w.bias));
  t.throws(() => weightsFromBase64('TrainedModel.Weights', 'AAAA', dim, classes), /TrainedModel\.Weights: 3 bytes, 16×3 weights and 3 biases need 204/);
  t.throws(() => writeClassifierOnnx({ ...w, bias: new Float32Array(2) }, { channels: 3, height: 4, width: 4 }), /weights\.bias: 2 values, must be classes = 3/);
  t.throws(() => writeClassifierOnnx(w, { channels: 3, height: 5, width: 4 }), /input: 5×4 pixels do not match weights\.dim 16/);
  t.throws(() => readClassifierOnnx(Buffer.from('not a model')), /model: /);
});
