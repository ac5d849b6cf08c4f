/**
 * Trained classifier heads as ONNX models, encoded and decoded with protobufjs over the ONNX
 * project's own schema (plugins-sdk/include/onnx.proto), never by hand: what ONNX Runtime loads
 * is what the schema says. The graph is the softmax-regression head the training ABI trains:
 * the frame tensor [N,3,H,W] → channel mean (grey) → flatten → Gemm(W, b) → Softmax → `probs`.
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

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

/** ONNX's TensorProto.DataType FLOAT and the opset the graph is written against. */
const FLOAT = 1;
const OPSET = 13;
/** Names of the two trainable initializers; the reader finds them by these names. */
export const WEIGHT_NAME = 'W';
export const BIAS_NAME = 'b';

// The schema sits in plugins-sdk/include both from src/plugins (tsx) and dist/plugins (compiled).
const SCHEMA = fileURLToPath(new URL('../../plugins-sdk/include/onnx.proto', import.meta.url));
let model: protobuf.Type | null = null;
function modelType(): protobuf.Type {
  return (model ??= protobuf.loadSync(SCHEMA).lookupType('onnx.ModelProto'));
}

/** Checks a head's shape: a clear message naming the field and the rule. */
export function checkWeights(w: ClassifierWeights): void {
  if (!Number.isInteger(w.dim) || w.dim < 1 || w.dim > 1 << 20) throw new RangeError(`weights.dim: ${w.dim} must be an integer in 1..${1 << 20}`);
  if (!Number.isInteger(w.classes) || w.classes < 2 || w.classes > 4096) throw new RangeError(`weights.classes: ${w.classes} must be an integer in 2..4096`);
  if (w.weights.length !== w.dim * w.classes) throw new RangeError(`weights.weights: ${w.weights.length} values, must be dim × classes = ${w.dim * w.classes}`);
  if (w.bias.length !== w.classes) throw new RangeError(`weights.bias: ${w.bias.length} values, must be classes = ${w.classes}`);
  for (const a of [w.weights, w.bias]) for (const v of a) if (!Number.isFinite(v)) throw new RangeError('weights: every value must be finite (training diverged?)');
}

function tensor(name: string, dims: number[], data: Float32Array): Record<string, unknown> {
  return { name, dims, dataType: FLOAT, rawData: Buffer.from(data.buffer, data.byteOffset, data.byteLength) };
}

function valueInfo(name: string, dims: Array<number | string>): Record<string, unknown> {
  return { name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } } };
}

/** The ONNX model of a classifier head over an [N, channels, height, width] frame tensor. */
export function writeClassifierOnnx(w: ClassifierWeights, input: ClassifierInput, doc = ''): Buffer {
  checkWeights(w);
  if (input.height * input.width !== w.dim) throw new RangeError(`input: ${input.height}×${input.width} pixels do not match weights.dim ${w.dim}`);
  const T = modelType();
  const msg = T.fromObject({
    irVersion: 8,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'retinad',
    docString: doc,
    graph: {
      name: 'classifier_head',
      node: [
        { opType: 'ReduceMean', input: ['frame'], output: ['grey'], attribute: [{ name: 'axes', type: 7, ints: [1] }, { name: 'keepdims', type: 2, i: 0 }] },
        { opType: 'Flatten', input: ['grey'], output: ['features'], attribute: [{ name: 'axis', type: 2, i: 1 }] },
        { opType: 'Gemm', input: ['features', WEIGHT_NAME, BIAS_NAME], output: ['logits'] },
        { opType: 'Softmax', input: ['logits'], output: ['probs'], attribute: [{ name: 'axis', type: 2, i: 1 }] },
      ],
      initializer: [tensor(WEIGHT_NAME, [w.dim, w.classes], w.weights), tensor(BIAS_NAME, [w.classes], w.bias)],
      input: [valueInfo('frame', ['N', input.channels, input.height, input.width])],
      output: [valueInfo('probs', ['N', w.classes])],
    },
  });
  return Buffer.from(T.encode(msg).finish());
}

/** The head's weights read back from a model this writer made (the start of the next training). */
export function readClassifierOnnx(bytes: Uint8Array): ClassifierWeights {
  let m: { graph?: { initializer?: Array<{ name?: string; dims?: Array<number | { toNumber(): number }>; dataType?: number; rawData?: Uint8Array }> } };
  try {
    m = modelType().decode(bytes) as typeof m;
  } catch (err) {
    throw new RangeError(`model: not an ONNX ModelProto (${(err as Error).message})`);
  }
  const find = (name: string) => {
    const t = m.graph?.initializer?.find((x) => x.name === name);
    if (!t || t.dataType !== FLOAT || !t.rawData) throw new RangeError(`model: no float initializer "${name}" with raw data; not a classifier head retinad wrote`);
    const copy = new Uint8Array(t.rawData); // aligned copy
    return { dims: (t.dims ?? []).map((d) => (typeof d === 'number' ? d : d.toNumber())), data: new Float32Array(copy.buffer, 0, copy.byteLength >> 2) };
  };
  const W = find(WEIGHT_NAME);
  const b = find(BIAS_NAME);
  const w: ClassifierWeights = { dim: W.dims[0] ?? 0, classes: W.dims[1] ?? 0, weights: W.data, bias: b.data };
  checkWeights(w);
  return w;
}
