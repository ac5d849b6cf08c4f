/**
 * Trained classifier heads as ONNX models, encoded and decoded with protobufjs over the ONNX
 * project's own schema (plugins-sdk/include/onnx.proto), never by hand: what ONNX Runtime loads
 * is what the schema says. The graph is the softmax-regression head the training ABI trains:
 * the frame tensor [N,3,H,W] → channel mean (grey) → flatten → Gemm(W, b) → Softmax → `probs`.
 * Compressed for a device (DC6, `compress: 'int8'`), W is stored as int8 with one scale per class
 * (symmetric, zero point 0) and a DequantizeLinear node restores it: a quarter of the bytes, and
 * the same arg-max on all but the closest calls.
 */
import { encodeModel, FLOAT, INT8, modelType, tensor, valueInfo } from './onnx-proto.ts';

/** A classifier head: `weights` is dim×classes row-major (feature-major), `bias` has `classes`. */
export interface ClassifierWeights {
  dim: number;
  classes: number;
  weights: Float32Array;
  bias: Float32Array;
}

/** The input the model reads: the plugin's frame tensor (nchw float32). */
export interface ClassifierInput {
  channels: number;
  height: number;
  width: number;
}

/** Names of the int8 weights and their per-class scales and zero points in a compressed model. */
const QWEIGHT_NAME = 'W_int8', QSCALE_NAME = 'W_scale', QZERO_NAME = 'W_zero';

/** How a head's weights are stored: float32, or int8 with a scale per class. */
export type Compression = 'none' | 'int8';

/** Symmetric per-class int8: scale_c = max |W[·,c]| / 127; W ≈ q × scale. */
export function quantizeInt8(w: ClassifierWeights): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(w.classes);
  for (let d = 0; d < w.dim; d++) for (let c = 0; c < w.classes; c++) scale[c] = Math.max(scale[c]!, Math.abs(w.weights[d * w.classes + c]!));
  for (let c = 0; c < w.classes; c++) scale[c] = scale[c]! > 0 ? scale[c]! / 127 : 1;
  const q = new Int8Array(w.weights.length);
  for (let i = 0; i < q.length; i++) q[i] = Math.max(-127, Math.min(127, Math.round(w.weights[i]! / scale[i % w.classes]!)));
  return { q, scale };
}
/** Names of the two trainable initializers; the reader finds them by these names. */
export const WEIGHT_NAME = 'W';
export const BIAS_NAME = 'b';


/** Checks a head's shape: a clear message naming the field and the rule. */
export function checkWeights(w: ClassifierWeights): void {
  if (!Number.isInteger(w.dim) || w.dim < 1 || w.dim > 1 << 20) throw new RangeError(`weights.dim: ${w.dim} must be an integer in 1..${1 << 20}`);
  if (!Number.isInteger(w.classes) || w.classes < 2 || w.classes > 4096) throw new RangeError(`weights.classes: ${w.classes} must be an integer in 2..4096`);
  if (w.weights.length !== w.dim * w.classes) throw new RangeError(`weights.weights: ${w.weights.length} values, must be dim × classes = ${w.dim * w.classes}`);
  if (w.bias.length !== w.classes) throw new RangeError(`weights.bias: ${w.bias.length} values, must be classes = ${w.classes}`);
  for (const a of [w.weights, w.bias]) for (const v of a) if (!Number.isFinite(v)) throw new RangeError('weights: every value must be finite (training diverged?)');
}

/** The ONNX model of a classifier head over an [N, channels, height, width] frame tensor. */
export function writeClassifierOnnx(w: ClassifierWeights, input: ClassifierInput, doc = '', compress: Compression = 'none'): Buffer {
  checkWeights(w);
  const qz = compress === 'int8' ? quantizeInt8(w) : null;
  const weightsFrom = qz
    ? { nodes: [{ opType: 'DequantizeLinear', input: [QWEIGHT_NAME, QSCALE_NAME, QZERO_NAME], output: [WEIGHT_NAME], attribute: [{ name: 'axis', type: 2, i: 1 }] }],
      initializers: [tensor(QWEIGHT_NAME, [w.dim, w.classes], qz.q), tensor(QSCALE_NAME, [w.classes], qz.scale), tensor(QZERO_NAME, [w.classes], new Int8Array(w.classes))] }
    : { nodes: [], initializers: [tensor(WEIGHT_NAME, [w.dim, w.classes], w.weights)] };
  if (input.height * input.width !== w.dim) throw new RangeError(`input: ${input.height}×${input.width} pixels do not match weights.dim ${w.dim}`);
  return encodeModel({
    name: 'classifier_head',
    node: [
      ...weightsFrom.nodes,
      { opType: 'ReduceMean', input: ['frame'], output: ['grey'], attribute: [{ name: 'axes', type: 7, ints: [1] }, { name: 'keepdims', type: 2, i: 0 }] },
      { opType: 'Flatten', input: ['grey'], output: ['features'], attribute: [{ name: 'axis', type: 2, i: 1 }] },
      { opType: 'Gemm', input: ['features', WEIGHT_NAME, BIAS_NAME], output: ['logits'] },
      { opType: 'Softmax', input: ['logits'], output: ['probs'], attribute: [{ name: 'axis', type: 2, i: 1 }] },
    ],
    initializer: [...weightsFrom.initializers, tensor(BIAS_NAME, [w.classes], w.bias)],
    input: [valueInfo('frame', ['N', input.channels, input.height, input.width])],
    output: [valueInfo('probs', ['N', w.classes])],
  }, doc);
}

/** The head's weights read back from a model this writer made (the start of the next training). */
export function readClassifierOnnx(bytes: Uint8Array): ClassifierWeights {
  let m: { graph?: { initializer?: Array<{ name?: string; dims?: Array<number | { toNumber(): number }>; dataType?: number; rawData?: Uint8Array }> } };
  try {
    m = modelType().decode(bytes) as typeof m;
  } catch (err) {
    throw new RangeError(`model: not an ONNX ModelProto (${(err as Error).message})`);
  }
  const find = (name: string, type = FLOAT) => {
    const t = m.graph?.initializer?.find((x) => x.name === name);
    if (!t || t.dataType !== type || !t.rawData) return undefined;
    const copy = new Uint8Array(t.rawData); // aligned copy
    return { dims: (t.dims ?? []).map((d) => (typeof d === 'number' ? d : d.toNumber())), data: type === INT8 ? new Int8Array(copy.buffer) : new Float32Array(copy.buffer, 0, copy.byteLength >> 2) };
  };
  const need = <T>(x: T | undefined, name: string): T => {
    if (!x) throw new RangeError(`model: no initializer "${name}" with raw data; not a classifier head retinad wrote`);
    return x;
  };
  const b = need(find(BIAS_NAME), BIAS_NAME);
  const W = find(WEIGHT_NAME);
  let w: ClassifierWeights;
  if (W) {
    w = { dim: W.dims[0] ?? 0, classes: W.dims[1] ?? 0, weights: W.data as Float32Array, bias: b.data as Float32Array };
  } else {
    // Compressed: the weights the DequantizeLinear node gives (what inference uses), as float.
    const q = need(find(QWEIGHT_NAME, INT8), WEIGHT_NAME), scale = need(find(QSCALE_NAME), QSCALE_NAME).data;
    const classes = q.dims[1] ?? 0;
    if (scale.length !== classes) throw new RangeError(`model: ${scale.length} scales for ${classes} classes`);
    w = { dim: q.dims[0] ?? 0, classes, weights: Float32Array.from(q.data, (v, i) => v * scale[i % classes]!), bias: b.data as Float32Array };
  }
  checkWeights(w);
  return w;
}
