/**
 * A dense network, whole or a run of its layers, as an ONNX model (DEC2), encoded and decoded with
 * protobufjs over the ONNX project's own schema (plugins-sdk/include/onnx.proto), never by hand.
 * Every part reads a frame tensor [N,C,H,W] (channel mean → flatten: H×W values), so a part that
 * starts mid-network reads the features a device filed as a sample set (each sample one frame).
 * Layer k's initializers are named W_k and b_k (1-based, by their place in the whole network),
 * so a part says which layers it holds. Graph: Gemm, ReLU between layers; a part that ends at the
 * last layer gives softmax `probs`, one that ends earlier gives the ReLU'd `features`.
 */
import { encodeModel, FLOAT, modelType, tensor, valueInfo } from './onnx-proto.ts';
import { BlobError } from './train-blob.ts';
import { checkNetwork, type DenseLayer, type DenseNetwork } from './dense-network.ts';
import type { ClassifierInput } from './onnx-writer.ts';

/** The output name of a part that ends before the last layer. */
export const FEATURES_OUTPUT = 'features';
/** The output name of a part that ends at the last layer. */
export const PROBS_OUTPUT = 'probs';


/** Which layers a part holds: [from, to), 0-based. */
export interface LayerRange {
  from: number;
  to: number;
}

/** Checks a range against a network of `layers` layers. */
export function checkRange(field: string, r: LayerRange, layers: number): void {
  if (!Number.isInteger(r.from) || !Number.isInteger(r.to) || r.from < 0 || r.to > layers || r.from >= r.to) {
    throw new BlobError(`${field}: [${r.from}, ${r.to}) must be a non-empty run of the network's ${layers} layers`);
  }
}

/** The ONNX model of layers [from, to) of `n` over a frame tensor of `input`'s shape. */
export function writeNetworkOnnx(n: DenseNetwork, input: ClassifierInput, range: LayerRange = { from: 0, to: n.layers.length }, doc = ''): Buffer {
  checkNetwork(n);
  checkRange('layers', range, n.layers.length);
  const first = n.layers[range.from]!;
  if (input.height * input.width !== first.inDim) throw new BlobError(`input: ${input.height}×${input.width} values do not match layer ${range.from + 1}'s ${first.inDim} inputs`);
  const last = range.to === n.layers.length;
  const nodes: Array<Record<string, unknown>> = [
    { opType: 'ReduceMean', input: ['frame'], output: ['grey'], attribute: [{ name: 'axes', type: 7, ints: [1] }, { name: 'keepdims', type: 2, i: 0 }] },
    { opType: 'Flatten', input: ['grey'], output: ['x0'], attribute: [{ name: 'axis', type: 2, i: 1 }] },
  ];
  const inits: Array<Record<string, unknown>> = [];
  let x = 'x0';
  for (let k = range.from; k < range.to; k++) {
    const l = n.layers[k]!;
    const id = k + 1;
    inits.push(tensor(`W_${id}`, [l.inDim, l.outDim], l.weights), tensor(`b_${id}`, [l.outDim], l.bias));
    const z = `z_${id}`;
    nodes.push({ opType: 'Gemm', input: [x, `W_${id}`, `b_${id}`], output: [z] });
    if (k < n.layers.length - 1) {
      const h = k === range.to - 1 ? FEATURES_OUTPUT : `h_${id}`;
      nodes.push({ opType: 'Relu', input: [z], output: [h] });
      x = h;
    } else {
      nodes.push({ opType: 'Softmax', input: [z], output: [PROBS_OUTPUT], attribute: [{ name: 'axis', type: 2, i: 1 }] });
    }
  }
  const outDim = n.layers[range.to - 1]!.outDim;
  return encodeModel({
    name: `dense_layers_${range.from + 1}_to_${range.to}`,
    node: nodes,
    initializer: inits,
    input: [valueInfo('frame', ['N', input.channels, input.height, input.width])],
    output: [valueInfo(last ? PROBS_OUTPUT : FEATURES_OUTPUT, ['N', outDim])],
  }, doc);
}

type Initializer = { name?: string; dims?: Array<number | { toNumber(): number }>; dataType?: number; rawData?: Uint8Array };

/**
 * The layers a model this writer made holds, with the place of the first one in the whole
 * network and whether they end at its output; null when the model has no W_k initializers (not a dense network: a one-layer head
 * of onnx-writer.ts, say). Refused naming the initializer when they are there but malformed.
 */
export function readNetworkOnnx(bytes: Uint8Array): { first: number; toOutput: boolean; network: DenseNetwork } | null {
  let m: { graph?: { initializer?: Initializer[]; output?: Array<{ name?: string }> } };
  try {
    m = modelType().decode(bytes) as typeof m;
  } catch (err) {
    throw new BlobError(`model: not an ONNX ModelProto (${(err as Error).message})`);
  }
  const byName = new Map((m.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  const ids = [...byName.keys()].map((k) => /^W_([1-9]\d?)$/.exec(k)).filter((x): x is RegExpExecArray => !!x).map((x) => Number(x[1])).sort((a, b) => a - b);
  if (!ids.length) return null;
  const layers: DenseLayer[] = [];
  ids.forEach((id, i) => {
    if (i > 0 && id !== ids[i - 1]! + 1) throw new BlobError(`model: initializer W_${ids[i - 1]! + 1} is missing between W_${ids[i - 1]} and W_${id}`);
    const get = (name: string, rank: number) => {
      const t = byName.get(name);
      if (!t || t.dataType !== FLOAT || !t.rawData) throw new BlobError(`model: initializer ${name} must be float32 raw data`);
      const dims = (t.dims ?? []).map((d) => (typeof d === 'number' ? d : d.toNumber()));
      if (dims.length !== rank) throw new BlobError(`model: initializer ${name} has ${dims.length} dimensions, must have ${rank}`);
      const copy = new Uint8Array(t.rawData); // aligned
      return { dims, data: new Float32Array(copy.buffer, 0, copy.byteLength >> 2) };
    };
    const W = get(`W_${id}`, 2), b = get(`b_${id}`, 1);
    layers.push({ inDim: W.dims[0]!, outDim: W.dims[1]!, weights: W.data, bias: b.data });
  });
  const network = { layers };
  checkNetwork(network);
  // toOutput: the part ends at the network's last layer (it gives `probs`, not `features`).
  return { first: ids[0]! - 1, toOutput: m.graph?.output?.[0]?.name === PROBS_OUTPUT, network };
}
