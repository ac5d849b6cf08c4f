/**
 * DEC2: the bytes of a network cut across tiers. A written network runs in ONNX Runtime as the
 * host computes it; its parts chained (device layers → features → edge layers) give the whole
 * network's answer; a part reads back as the layers it holds. The digit_mlp example's rd_train
 * (in the sandbox worker) takes the gradient step backpropagation says. Malformed RDW2 blocks,
 * wire weights and models are refused naming the field, generated ones never with another error.
 */
import t from 'tap';
import fc from 'fast-check';
import path from 'node:path';
import { existsSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { checkSizes, decodeNetworkBlock, forward, networkAccuracy, networkFromWire, networkToWire, NETWORK_MAGIC, type DenseNetwork } from '../../src/plugins/dense-network.ts';
import { readNetworkOnnx, writeNetworkOnnx } from '../../src/plugins/network-onnx.ts';
import { BlobError } from '../../src/plugins/train-blob.ts';
import { writeClassifierOnnx } from '../../src/plugins/onnx-writer.ts';
import train from '../../src/plugins/train-worker.ts';
import { FC_SEED } from '../helpers/seed.ts';

const root = path.resolve(import.meta.dirname, '..', '..');
const sizes = [16, 5, 3];
const net: DenseNetwork = { layers: [
  { inDim: 16, outDim: 5, weights: Float32Array.from({ length: 80 }, (_, i) => Math.sin(i * 1.3) / 2), bias: Float32Array.from([0.1, -0.05, 0, 0.2, -0.1]) },
  { inDim: 5, outDim: 3, weights: Float32Array.from({ length: 15 }, (_, i) => Math.cos(i) / 2), bias: Float32Array.from([0.05, -0.1, 0]) },
] };

/** A frame tensor [n,3,h,w] whose three channels hold `x` (n×h·w). */
function frames(x: Float32Array, n: number, hw: number): Float32Array {
  const f = new Float32Array(n * 3 * hw);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) f.set(x.subarray(i * hw, (i + 1) * hw), (i * 3 + c) * hw);
  return f;
}

/** A network block as rd_train writes it. */
function block(n: DenseNetwork, o: { magic?: number; layers?: number; metrics?: string; extra?: number; sizes?: number[] } = {}): Buffer {
  const wire = Buffer.from(networkToWire(n).Weights, 'base64');
  const m = Buffer.from(o.metrics ?? '{"Loss":0.5}');
  const s = o.sizes ?? sizes;
  const head = 12 + 4 * s.length;
  const b = Buffer.alloc(head + wire.length + m.length + (o.extra ?? 0));
  b.writeUInt32LE(o.magic ?? NETWORK_MAGIC, 0); b.writeUInt32LE(o.layers ?? s.length - 1, 4); b.writeUInt32LE(m.length, 8);
  s.forEach((v, i) => b.writeUInt32LE(v, 12 + 4 * i));
  wire.copy(b, head); m.copy(b, head + wire.length);
  return b;
}

t.test('DEC2: a written network runs in ONNX Runtime as the host computes it; device part then edge part give the whole network\'s answer', async (t) => {
  const n = 6;
  const x = Float32Array.from({ length: n * 16 }, (_, i) => ((i * 7) % 13) / 13);
  const whole = await ort.InferenceSession.create(writeNetworkOnnx(net, { channels: 3, height: 4, width: 4 }));
  const probs = (await whole.run({ frame: new ort.Tensor('float32', frames(x, n, 16), [n, 3, 4, 4]) })).probs!.data as Float32Array;
  const device = await ort.InferenceSession.create(writeNetworkOnnx(net, { channels: 3, height: 4, width: 4 }, { from: 0, to: 1 }));
  const features = (await device.run({ frame: new ort.Tensor('float32', frames(x, n, 16), [n, 3, 4, 4]) })).features!.data as Float32Array;
  t.equal(features.length, n * 5, 'the device part gives 5 features per frame');
  t.ok(features.every((v) => v >= 0), 'ReLU\'d');
  // The edge reads the 5 features as a 1×5 frame (every channel the same, as a sample set's rows are handed in).
  const edge = await ort.InferenceSession.create(writeNetworkOnnx(net, { channels: 3, height: 1, width: 5 }, { from: 1, to: 2 }));
  const split = (await edge.run({ frame: new ort.Tensor('float32', frames(features, n, 5), [n, 3, 1, 5]) })).probs!.data as Float32Array;
  for (let i = 0; i < n; i++) {
    const z = forward(net, x.subarray(i * 16, (i + 1) * 16));
    const e = Array.from(z, (v) => Math.exp(v - Math.max(...z)));
    const sum = e.reduce((a, b) => a + b);
    for (let c = 0; c < 3; c++) {
      t.ok(Math.abs(e[c]! / sum - probs[i * 3 + c]!) < 1e-5, `sample ${i} class ${c}: whole network = host`);
      t.ok(Math.abs(split[i * 3 + c]! - probs[i * 3 + c]!) < 1e-5, `sample ${i} class ${c}: device part → edge part = whole network`);
    }
  }
  const labels = Uint8Array.from({ length: n }, (_, i) => { const p = Array.from(probs.subarray(i * 3, i * 3 + 3)); return p.indexOf(Math.max(...p)); });
  t.equal(networkAccuracy(net, { dim: 16, classes: 3, features: x, labels }), 1, 'the host\'s accuracy (MinAccuracy) agrees with ONNX Runtime');
  // Read back: the whole network from layer 0 to the output; a part as the layers it holds.
  const back = readNetworkOnnx(writeNetworkOnnx(net, { channels: 3, height: 4, width: 4 }))!;
  t.equal(back.first, 0); t.equal(back.toOutput, true);
  t.strictSame(Array.from(back.network.layers[1]!.weights), Array.from(net.layers[1]!.weights));
  const part = readNetworkOnnx(writeNetworkOnnx(net, { channels: 3, height: 1, width: 5 }, { from: 1, to: 2 }))!;
  t.equal(part.first, 1, 'the edge part holds layer 2'); t.equal(part.toOutput, true); t.equal(part.network.layers.length, 1);
  const dev = readNetworkOnnx(writeNetworkOnnx(net, { channels: 3, height: 4, width: 4 }, { from: 0, to: 1 }))!;
  t.equal(dev.first, 0); t.equal(dev.toOutput, false, 'the device part ends in features, not the output');
  t.equal(readNetworkOnnx(writeClassifierOnnx({ dim: 16, classes: 3, weights: new Float32Array(48), bias: new Float32Array(3) }, { channels: 3, height: 4, width: 4 })), null, 'a one-layer head is not a network');
});

t.test('DEC2: the digit_mlp example\'s rd_train takes the step backpropagation says', { skip: existsSync(path.join(root, 'plugins-sdk/examples/digit_mlp/build/plugin.wasm')) ? false : 'examples not built (node scripts/build-plugins.mjs)' }, async (t) => {
  const x = Float32Array.from({ length: 16 }, (_, i) => ((i * 5) % 7) / 7);
  const y = 2, lr = 0.01;
  const u8 = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const out = train({
    wasmPath: path.join(root, 'plugins-sdk/examples/digit_mlp/build/plugin.wasm'), memInitial: 16, memMax: 1024, maxOutputBytes: 1 << 20, exportName: 'rd_train', dim: 16, classes: 3,
    args: { LearningRate: lr, BatchSize: 1, L2: 0, Epoch: 0 }, buffers: [u8(x), Uint8Array.of(y), ...net.layers.flatMap((l) => [u8(l.weights), u8(l.bias)])],
  });
  const { network, metrics } = decodeNetworkBlock(out, sizes);
  t.equal(metrics.Samples, 1);
  // The loss −log softmax(forward(x))[y]; its gradient by central differences, in float64.
  const loss = (n: DenseNetwork) => { const z = forward(n, x); const m = Math.max(...z); return -(z[y]! - m - Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0))); };
  t.ok(Math.abs(metrics.Loss! - loss(net)) < 1e-4, `reported loss ${metrics.Loss} is the loss before the step ${loss(net)}`);
  let worst = 0;
  net.layers.forEach((l, k) => {
    for (const [name, arr] of [['weights', l.weights], ['bias', l.bias]] as const) {
      for (let i = 0; i < arr.length; i++) {
        const probe = (d: number) => { const c: DenseNetwork = { layers: net.layers.map((q) => ({ ...q, weights: Float32Array.from(q.weights), bias: Float32Array.from(q.bias) })) }; c.layers[k]![name][i]! += d; return loss(c); };
        const grad = (probe(1e-3) - probe(-1e-3)) / 2e-3;
        const step = network.layers[k]![name][i]! - arr[i]!;
        worst = Math.max(worst, Math.abs(step + lr * grad));
      }
    }
  });
  t.ok(worst < 2e-5, `every weight moved by −LearningRate × ∂loss/∂w (largest difference ${worst.toExponential(2)})`);
});

t.test('DEC2: malformed network blocks, wire weights and models are refused naming the field and the rule', async (t) => {
  t.equal(decodeNetworkBlock(block(net), sizes).metrics.Loss, 0.5);
  t.throws(() => decodeNetworkBlock(block(net, { magic: 0x31574452 })), /network block: does not start with "RDW2"/);
  t.throws(() => decodeNetworkBlock(block(net, { layers: 0 })), /network block\.layers: 0 must be 1\.\.8/);
  t.throws(() => decodeNetworkBlock(block(net, { extra: 4 })), /network block: \d+ bytes, its header \(sizes 16×5×3, metrics 12\) needs exactly/);
  t.throws(() => decodeNetworkBlock(block(net), [16, 6, 3]), /network block\.sizes: 16×5×3, the task trains 16×6×3/);
  t.throws(() => decodeNetworkBlock(block(net, { sizes: [16, 5, 1] })), /network block\.sizes\[2\]: 1 classes, must be 2\.\.4096/);
  t.throws(() => decodeNetworkBlock(block(net, { metrics: '[1]' })), /network block\.metrics: must be a JSON object/);
  const nan = block(net); nan.writeFloatLE(Number.NaN, 12 + 12);
  t.throws(() => decodeNetworkBlock(nan), /network\.layers\[0\]: value 0 is not finite \(training diverged; lower LearningRate\)/);
  t.throws(() => decodeNetworkBlock(new Uint8Array(5)), /shorter than the 12-byte header/);
  const wire = networkToWire(net);
  t.strictSame(networkFromWire('TrainedModel', wire.Sizes, wire.Weights).layers[1]!.bias, net.layers[1]!.bias);
  t.throws(() => networkFromWire('TrainedModel', [16, 5, 3], 'AAAA'), /TrainedModel\.Weights: 3 bytes, a 16×5×3 network needs 412/);
  t.throws(() => networkFromWire('TrainedModel', [16], wire.Weights), /TrainedModel\.Sizes: must be a list of 2\.\.9 layer sizes/);
  t.throws(() => networkFromWire('TrainedModel', [16, 2.5, 3], wire.Weights), /TrainedModel\.Sizes\[1\]: 2\.5 must be an integer/);
  t.throws(() => networkFromWire('TrainedModel', wire.Sizes, 7), /TrainedModel\.Weights: must be base64 text/);
  t.throws(() => checkSizes('Sizes', [1 << 20, 1 << 20, 10]), /Sizes: \d+ weights and biases, more than the \d+ allowed/);
  t.throws(() => writeNetworkOnnx(net, { channels: 3, height: 4, width: 5 }), /input: 4×5 values do not match layer 1's 16 inputs/);
  t.throws(() => writeNetworkOnnx(net, { channels: 3, height: 4, width: 4 }, { from: 1, to: 1 }), /layers: \[1, 1\) must be a non-empty run of the network's 2 layers/);
  t.throws(() => writeNetworkOnnx({ layers: [net.layers[0]!, { ...net.layers[1]!, inDim: 4, weights: new Float32Array(12) }] }, { channels: 3, height: 4, width: 4 }), /network\.layers\[1\]\.inDim: 4, the layer before gives 5/);
  t.throws(() => readNetworkOnnx(Buffer.from('not a model')), /model: not an ONNX ModelProto/);
});

t.test('DEC2: generated network blocks, wire texts and models are refused with a BlobError, never another error', async (t) => {
  const good = block(net);
  let refused = 0;
  const only = (fn: () => unknown) => { try { fn(); } catch (err) { if (!(err instanceof BlobError)) throw err; refused++; } };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat(good.length), (junk, flips, cut) => {
    only(() => decodeNetworkBlock(junk));
    const b = Buffer.from(good);
    for (const [at, v] of flips) b[at] = v;
    only(() => decodeNetworkBlock(b.subarray(0, cut)));
    only(() => decodeNetworkBlock(b, sizes));
  }), { numRuns: 300, seed: FC_SEED });
  fc.assert(fc.property(fc.anything(), fc.anything(), (s, w) => { only(() => networkFromWire('TrainedModel', s, w)); }), { numRuns: 300, seed: FC_SEED });
  const onnx = writeNetworkOnnx(net, { channels: 3, height: 4, width: 4 });
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(onnx.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (flips) => {
    const b = Buffer.from(onnx);
    for (const [at, v] of flips) b[at] = v;
    only(() => readNetworkOnnx(b));
  }), { numRuns: 300, seed: FC_SEED });
  t.ok(refused > 300, `${refused} generated inputs refused with a BlobError naming the field, none with another error (seed ${FC_SEED})`);
});
