/**
 * EE2, gradient exchange: in a federated round an edge may send what its training changed — the
 * accumulated gradient steps, trained weights minus the weights it started from — instead of the
 * weights themselves, and only the largest share of it (top-k sparsification) to cut the upload.
 * The scheduler adds the sample-weighted mean of the edges' changes to the version they all
 * started from. Dense, that is exactly FedAvg; sparse, it trades a little accuracy per round for
 * an upload k times smaller.
 *
 * On the wire (ResultData.TrainedModel.Delta): `Indices` — base64 of strictly increasing uint32
 * positions into W then b (omitted: dense, every position in order) — and `Values` — base64 of
 * float32 changes at those positions, both little-endian.
 */
import type { ClassifierWeights } from './onnx-writer.ts';
import { BlobError } from './train-blob.ts';

export interface WeightDelta {
  /** Positions into W then b, strictly increasing; undefined when dense. */
  indices?: Uint32Array;
  values: Float32Array;
}

/** What travels in a TaskResult. */
export interface WireDelta {
  Indices?: string;
  Values: string;
}

const flat = (w: ClassifierWeights): Float32Array => {
  const all = new Float32Array(w.weights.length + w.bias.length);
  all.set(w.weights); all.set(w.bias, w.weights.length);
  return all;
};

/** trained − base, keeping the `share` (0 < share ≤ 1) of positions with the largest change. */
export function weightDelta(base: ClassifierWeights, trained: ClassifierWeights, share = 1): WeightDelta {
  if (base.dim !== trained.dim || base.classes !== trained.classes) throw new RangeError(`delta: base ${base.dim}×${base.classes}, trained ${trained.dim}×${trained.classes}`);
  if (!(share > 0 && share <= 1)) throw new RangeError(`delta: share ${share} must be in (0, 1]`);
  const a = flat(base), b = flat(trained);
  const d = b.map((v, i) => v - a[i]!);
  if (share === 1) return { values: d };
  const k = Math.max(1, Math.ceil(d.length * share));
  // The k largest |change|: sort positions by magnitude, keep k, then put them back in order.
  const order = Array.from(d.keys()).sort((x, y) => Math.abs(d[y]!) - Math.abs(d[x]!) || x - y).slice(0, k).sort((x, y) => x - y);
  return { indices: Uint32Array.from(order), values: Float32Array.from(order, (i) => d[i]!) };
}

const b64 = (a: Uint32Array | Float32Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

export function deltaToWire(d: WeightDelta): WireDelta {
  return { ...(d.indices ? { Indices: b64(d.indices) } : {}), Values: b64(d.values) };
}

/** Reads a delta for a `dim`×`classes` head; every malformed part is a BlobError naming `field` and the rule. */
export function deltaFromWire(field: string, w: unknown, dim: number, classes: number): WeightDelta {
  const n = dim * classes + classes;
  if (!w || typeof w !== 'object' || Array.isArray(w)) throw new BlobError(`${field}: must be an object with Values (and Indices when sparse)`);
  const { Indices, Values } = w as Record<string, unknown>;
  if (typeof Values !== 'string') throw new BlobError(`${field}.Values: must be base64 text`);
  if (Indices !== undefined && typeof Indices !== 'string') throw new BlobError(`${field}.Indices: must be base64 text when present`);
  const vb = Buffer.from(Values, 'base64');
  if (vb.byteLength % 4) throw new BlobError(`${field}.Values: ${vb.byteLength} bytes, not a whole number of float32`);
  const values = new Float32Array(new Uint8Array(vb).buffer);
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) throw new BlobError(`${field}.Values: value ${i} is not finite`);
  if (Indices === undefined) {
    if (values.length !== n) throw new BlobError(`${field}.Values: ${values.length} values; a dense delta of ${dim}×${classes} weights and ${classes} biases has ${n}`);
    return { values };
  }
  const ib = Buffer.from(Indices, 'base64');
  if (ib.byteLength !== values.length * 4) throw new BlobError(`${field}.Indices: ${ib.byteLength / 4} positions for ${values.length} values; they must pair up`);
  const indices = new Uint32Array(new Uint8Array(ib).buffer);
  for (let i = 0; i < indices.length; i++) {
    if (indices[i]! >= n) throw new BlobError(`${field}.Indices: position ${indices[i]} is past the ${n} of the head`);
    if (i && indices[i]! <= indices[i - 1]!) throw new BlobError(`${field}.Indices: must be strictly increasing (position ${i})`);
  }
  return { indices, values };
}

/** base + delta: the weights an edge's change leads to from the version it started from. */
export function applyDelta(base: ClassifierWeights, d: WeightDelta): ClassifierWeights {
  const all = flat(base);
  if (d.indices) d.indices.forEach((p, i) => { all[p]! += d.values[i]!; });
  else if (d.values.length === all.length) d.values.forEach((v, i) => { all[i]! += v; });
  else throw new RangeError(`delta: ${d.values.length} dense values for a head of ${all.length}`);
  const nw = base.weights.length;
  return { dim: base.dim, classes: base.classes, weights: all.subarray(0, nw), bias: all.subarray(nw) };
}
