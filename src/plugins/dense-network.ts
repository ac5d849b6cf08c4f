/**
 * A layered (dense) network, the model a tier split is made of (DEC2): layer k maps in_k values
 * to out_k (W_k in_k×out_k feature-major, b_k), ReLU between layers, softmax after the last. Its
 * training ABI block is "RDW2" (RDW1 is the one-layer head's, train-blob.ts); on the wire of a
 * TaskResult it is the layer sizes plus base64 of every layer's W then b. Checked field by field:
 * a malformed one is refused with the field and the rule, never half-read.
 */
import { BlobError, blockMetrics, type SampleSet } from './train-blob.ts';

/** One layer: `weights` is inDim×outDim row-major (feature-major), `bias` has outDim. */
export interface DenseLayer {
  inDim: number;
  outDim: number;
  weights: Float32Array;
  bias: Float32Array;
}

/** Layers in order; ReLU after every layer but the last, softmax after the last. */
export interface DenseNetwork {
  layers: DenseLayer[];
}

/** "RDW2", little-endian. */
export const NETWORK_MAGIC = 0x32574452;
/** Deepest network the host takes (the example has two layers). */
export const MAX_LAYERS = 8;
/** Most values (weights and biases, float32) a network may have: 64 MiB of them. */
export const MAX_NETWORK_VALUES = 16 << 20;

/** [in_0, out_0, out_1, …]: the sizes a network's layers chain through. */
export function networkSizes(n: DenseNetwork): number[] {
  return [n.layers[0]?.inDim ?? 0, ...n.layers.map((l) => l.outDim)];
}

/** Checks a sizes list: 2..MAX_LAYERS+1 integers, each 1..2^20, at least 2 classes at the end, bounded in total. */
export function checkSizes(field: string, sizes: unknown): number[] {
  if (!Array.isArray(sizes) || sizes.length < 2 || sizes.length > MAX_LAYERS + 1) throw new BlobError(`${field}: must be a list of 2..${MAX_LAYERS + 1} layer sizes (input, hidden…, classes)`);
  sizes.forEach((s, i) => {
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 1 || s > 1 << 20) throw new BlobError(`${field}[${i}]: ${JSON.stringify(s)} must be an integer in 1..${1 << 20}`);
  });
  const n = sizes as number[];
  if (n[n.length - 1]! < 2 || n[n.length - 1]! > 4096) throw new BlobError(`${field}[${n.length - 1}]: ${n[n.length - 1]} classes, must be 2..4096`);
  if (valueCount(n) > MAX_NETWORK_VALUES) throw new BlobError(`${field}: ${valueCount(n)} weights and biases, more than the ${MAX_NETWORK_VALUES} allowed`);
  return n;
}

/** Weights and biases of a network of these sizes. */
function valueCount(sizes: readonly number[]): number {
  let v = 0;
  for (let k = 0; k + 1 < sizes.length; k++) v += sizes[k]! * sizes[k + 1]! + sizes[k + 1]!;
  return v;
}

/** Checks a network's shape and values: the field and the rule on the first fault. */
export function checkNetwork(n: DenseNetwork): void {
  if (!n.layers.length) throw new BlobError('network.layers: at least one layer');
  checkSizes('network sizes', networkSizes(n));
  n.layers.forEach((l, k) => {
    if (k > 0 && l.inDim !== n.layers[k - 1]!.outDim) throw new BlobError(`network.layers[${k}].inDim: ${l.inDim}, the layer before gives ${n.layers[k - 1]!.outDim}`);
    if (l.weights.length !== l.inDim * l.outDim) throw new BlobError(`network.layers[${k}].weights: ${l.weights.length} values, must be inDim × outDim = ${l.inDim * l.outDim}`);
    if (l.bias.length !== l.outDim) throw new BlobError(`network.layers[${k}].bias: ${l.bias.length} values, must be outDim = ${l.outDim}`);
    for (const a of [l.weights, l.bias]) for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) throw new BlobError(`network.layers[${k}]: value ${i} is not finite (training diverged; lower LearningRate)`);
  });
}

/** Cuts `all` (every layer's W then b, in order) into layers of `sizes`; `all` must hold exactly that many. */
function split(sizes: readonly number[], all: Float32Array): DenseNetwork {
  const layers: DenseLayer[] = [];
  let at = 0;
  for (let k = 0; k + 1 < sizes.length; k++) {
    const i = sizes[k]!, o = sizes[k + 1]!;
    layers.push({ inDim: i, outDim: o, weights: all.subarray(at, at + i * o), bias: all.subarray(at + i * o, at + i * o + o) });
    at += i * o + o;
  }
  return { layers };
}

/** Every layer's W then b, in order, as one float32 array. */
function joined(n: DenseNetwork): Float32Array {
  const all = new Float32Array(valueCount(networkSizes(n)));
  let at = 0;
  for (const l of n.layers) { all.set(l.weights, at); all.set(l.bias, at + l.weights.length); at += l.weights.length + l.bias.length; }
  return all;
}

/** The flat buffers `rd_train` takes after features and labels: W_0, b_0, W_1, b_1, … */
export function networkBuffers(n: DenseNetwork): Uint8Array[] {
  return n.layers.flatMap((l) => [l.weights, l.bias].map((a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)));
}

/**
 * Parses `rd_train`'s output for a network: "RDW2", layer count L, metrics length, then L+1
 * sizes (u32 each), every layer's W then b (float32), the metrics as a JSON object.
 */
export function decodeNetworkBlock(b: Uint8Array, expect?: readonly number[]): { network: DenseNetwork; metrics: Record<string, number> } {
  if (b.byteLength < 12) throw new BlobError(`network block: ${b.byteLength} bytes, shorter than the 12-byte header`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (dv.getUint32(0, true) !== NETWORK_MAGIC) throw new BlobError('network block: does not start with "RDW2"');
  const L = dv.getUint32(4, true), mlen = dv.getUint32(8, true);
  if (L < 1 || L > MAX_LAYERS) throw new BlobError(`network block.layers: ${L} must be 1..${MAX_LAYERS}`);
  const head = 12 + 4 * (L + 1);
  if (b.byteLength < head) throw new BlobError(`network block: ${b.byteLength} bytes, shorter than the ${head}-byte header of ${L} layers`);
  const sizes = checkSizes('network block.sizes', Array.from({ length: L + 1 }, (_, i) => dv.getUint32(12 + 4 * i, true)));
  if (expect && sizes.join('×') !== expect.join('×')) throw new BlobError(`network block.sizes: ${sizes.join('×')}, the task trains ${expect.join('×')}`);
  const values = valueCount(sizes);
  const want = head + values * 4 + mlen;
  if (b.byteLength !== want) throw new BlobError(`network block: ${b.byteLength} bytes, its header (sizes ${sizes.join('×')}, metrics ${mlen}) needs exactly ${want}`);
  const copy = new Uint8Array(values * 4); // aligned
  copy.set(b.subarray(head, head + values * 4));
  const network = split(sizes, new Float32Array(copy.buffer));
  checkNetwork(network);
  return { network, metrics: blockMetrics('network block.metrics:', b.subarray(want - mlen)) };
}

/** A network as it travels in a TaskResult: its sizes and base64 of every layer's W then b. */
export function networkToWire(n: DenseNetwork): { Sizes: number[]; Weights: string } {
  const all = joined(n);
  return { Sizes: networkSizes(n), Weights: Buffer.from(all.buffer, all.byteOffset, all.byteLength).toString('base64') };
}

/** The inverse of networkToWire, checked: `field` names the base64 text in messages. */
export function networkFromWire(field: string, sizes: unknown, text: unknown): DenseNetwork {
  const s = checkSizes(`${field}.Sizes`, sizes);
  if (typeof text !== 'string') throw new BlobError(`${field}.Weights: must be base64 text`);
  const bytes = Buffer.from(text, 'base64');
  const want = valueCount(s) * 4;
  if (bytes.byteLength !== want) throw new BlobError(`${field}.Weights: ${bytes.byteLength} bytes, a ${s.join('×')} network needs ${want}`);
  const n = split(s, new Float32Array(new Uint8Array(bytes).buffer));
  checkNetwork(n);
  return n;
}

/** The network's output for one input vector: the last layer's logits (ReLU between layers). */
export function forward(n: DenseNetwork, x: Float32Array, from = 0, to = n.layers.length): Float64Array {
  let a: ArrayLike<number> = x;
  let out = new Float64Array(0);
  for (let k = from; k < to; k++) {
    const l = n.layers[k]!;
    out = Float64Array.from(l.bias);
    for (let i = 0; i < l.inDim; i++) {
      const v = a[i]!;
      if (v !== 0) for (let j = 0; j < l.outDim; j++) out[j]! += v * l.weights[i * l.outDim + j]!;
    }
    if (k < n.layers.length - 1) for (let j = 0; j < out.length; j++) out[j] = Math.max(0, out[j]!);
    a = out;
  }
  return out;
}

/** Share of `s` the whole network classifies correctly (arg-max of its logits; softmax keeps it). */
export function networkAccuracy(n: DenseNetwork, s: SampleSet): number {
  const sizes = networkSizes(n);
  if (s.dim !== sizes[0] || s.classes !== sizes[sizes.length - 1]) throw new BlobError(`validation samples are ${s.dim}-dimensional with ${s.classes} classes; the network takes ${sizes[0]} and gives ${sizes[sizes.length - 1]}`);
  let correct = 0;
  for (let i = 0; i < s.labels.length; i++) {
    const z = forward(n, s.features.subarray(i * s.dim, (i + 1) * s.dim));
    let best = 0;
    for (let c = 1; c < z.length; c++) if (z[c]! > z[best]!) best = c;
    if (best === s.labels[i]) correct++;
  }
  return s.labels.length ? correct / s.labels.length : 0;
}
