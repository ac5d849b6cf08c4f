/**
 * The bytes of the learning loop, checked field by field: a sample set ("RDS1": labelled
 * feature vectors, what edges keep and training reads; "RDS2": the same with the action a
 * model took on each sample and the reward it got, DC7) and the training ABI's
 * weights block ("RDW1": what `rd_train` returns). A malformed one is refused with the field
 * and the rule.
 */
import type { ClassifierWeights } from './onnx-writer.ts';

/** "RDS1", little-endian. */
export const SAMPLES_MAGIC = 0x31534452;
/** "RDW1", little-endian. */
export const WEIGHTS_MAGIC = 0x31574452;
const SAMPLES_HEADER = 16;
const WEIGHTS_HEADER = 16;
/** Largest sample set one task reads (features are float32). */
export const MAX_SAMPLE_BYTES = 256 << 20;

/**
 * Labelled samples: `features` is count×dim row-major, `labels` one class index each. A set with
 * feedback (RDS2, DC7) also has, per sample, the action taken (the class a model chose), its
 * reward (NaN: none yet) and the result's Pts; its labels may be NO_LABEL.
 */
export interface SampleSet {
  dim: number;
  classes: number;
  features: Float32Array;
  labels: Uint8Array;
  feedback?: SampleFeedback;
}

/** Per-sample feedback of an RDS2 set, each array one value per sample. */
export interface SampleFeedback {
  actions: Uint8Array;
  rewards: Float32Array;
  pts: Float64Array;
}

/** The label byte of an RDS2 sample nobody labelled (a set with it has at most 255 classes). */
export const NO_LABEL = 255;
/** "RDS2", little-endian: RDS1 with feedback. */
export const FEEDBACK_SAMPLES_MAGIC = 0x32534452;
/** Rewards are 0..1 (the chance the action was right; bandit feedback: 1 or 0), so one sample cannot outweigh a set. */
export const REWARD_MIN = 0;
export const REWARD_MAX = 1;

export class BlobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BlobError';
  }
}

/** Encodes samples: magic, count, dim, classes (u32 each), features f32, labels u8. */
export function encodeSamples(s: SampleSet): Buffer {
  const n = s.labels.length;
  if (s.features.length !== n * s.dim) throw new BlobError(`samples.features: ${s.features.length} values, must be count × dim = ${n * s.dim}`);
  const out = Buffer.alloc(SAMPLES_HEADER + n * s.dim * 4 + n);
  out.writeUInt32LE(SAMPLES_MAGIC, 0); out.writeUInt32LE(n, 4); out.writeUInt32LE(s.dim, 8); out.writeUInt32LE(s.classes, 12);
  Buffer.from(s.features.buffer, s.features.byteOffset, s.features.byteLength).copy(out, SAMPLES_HEADER);
  Buffer.from(s.labels.buffer, s.labels.byteOffset, s.labels.byteLength).copy(out, SAMPLES_HEADER + n * s.dim * 4);
  return out;
}

/** Decodes and checks a sample set, RDS1 or RDS2 (sizes, labels in range, finite features). */
export function decodeSamples(b: Uint8Array): SampleSet {
  if (b.byteLength > MAX_SAMPLE_BYTES) throw new BlobError(`samples: ${b.byteLength} bytes, more than the ${MAX_SAMPLE_BYTES} allowed`);
  if (b.byteLength < SAMPLES_HEADER) throw new BlobError(`samples: ${b.byteLength} bytes, shorter than the ${SAMPLES_HEADER}-byte header`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (dv.getUint32(0, true) === FEEDBACK_SAMPLES_MAGIC) return decodeFeedbackSamples(b);
  if (dv.getUint32(0, true) !== SAMPLES_MAGIC) throw new BlobError('samples: does not start with "RDS1" or "RDS2"');
  const n = dv.getUint32(4, true), dim = dv.getUint32(8, true), classes = dv.getUint32(12, true);
  if (n < 1) throw new BlobError('samples.count: must be at least 1');
  if (dim < 1 || dim > 1 << 20) throw new BlobError(`samples.dim: ${dim} must be in 1..${1 << 20}`);
  if (classes < 2 || classes > 256) throw new BlobError(`samples.classes: ${classes} must be in 2..256 (labels are one byte)`);
  const want = SAMPLES_HEADER + n * dim * 4 + n;
  if (b.byteLength !== want) throw new BlobError(`samples: ${b.byteLength} bytes, the header (count ${n}, dim ${dim}) needs exactly ${want}`);
  const copy = new Uint8Array(b.byteLength - SAMPLES_HEADER);
  copy.set(b.subarray(SAMPLES_HEADER));
  const features = new Float32Array(copy.buffer, 0, n * dim);
  const labels = copy.subarray(n * dim * 4);
  for (let i = 0; i < n; i++) if (labels[i]! >= classes) throw new BlobError(`samples.labels[${i}]: ${labels[i]} is not a class below ${classes}`);
  for (let i = 0; i < features.length; i++) if (!Number.isFinite(features[i])) throw new BlobError(`samples.features[${i}]: not a finite number`);
  return { dim, classes, features, labels };
}

/**
 * Encodes a set with feedback (RDS2): magic, count, dim, classes (u32 each), features f32 N×D,
 * labels u8 N (NO_LABEL: none), actions u8 N, rewards f32 N (NaN: none yet), pts f64 N.
 */
export function encodeFeedbackSamples(s: SampleSet & { feedback: SampleFeedback }): Buffer {
  const n = s.labels.length, f = s.feedback;
  if (s.features.length !== n * s.dim) throw new BlobError(`samples.features: ${s.features.length} values, must be count × dim = ${n * s.dim}`);
  if (f.actions.length !== n || f.rewards.length !== n || f.pts.length !== n) throw new BlobError(`samples.feedback: actions, rewards and pts must have ${n} values each`);
  const fo = SAMPLES_HEADER, lo = fo + n * s.dim * 4, ao = lo + n, ro = ao + n, po = ro + n * 4;
  const out = Buffer.alloc(po + n * 8);
  out.writeUInt32LE(FEEDBACK_SAMPLES_MAGIC, 0); out.writeUInt32LE(n, 4); out.writeUInt32LE(s.dim, 8); out.writeUInt32LE(s.classes, 12);
  const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  bytes(s.features).copy(out, fo); bytes(s.labels).copy(out, lo); bytes(f.actions).copy(out, ao); bytes(f.rewards).copy(out, ro); bytes(f.pts).copy(out, po);
  return out;
}

/** Decodes and checks an RDS2 set: every field in range, each refusal naming the field and the sample. */
function decodeFeedbackSamples(b: Uint8Array): SampleSet {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = dv.getUint32(4, true), dim = dv.getUint32(8, true), classes = dv.getUint32(12, true);
  if (n < 1) throw new BlobError('samples.count: must be at least 1');
  if (dim < 1 || dim > 1 << 20) throw new BlobError(`samples.dim: ${dim} must be in 1..${1 << 20}`);
  if (classes < 2 || classes > 255) throw new BlobError(`samples.classes: ${classes} must be in 2..255 (labels are one byte, 255 is "no label")`);
  const want = SAMPLES_HEADER + n * (dim * 4 + 1 + 1 + 4 + 8);
  if (b.byteLength !== want) throw new BlobError(`samples: ${b.byteLength} bytes, the RDS2 header (count ${n}, dim ${dim}) needs exactly ${want}`);
  // One aligned copy each: the input may sit at any offset.
  const copy = <T>(at: number, len: number, make: (buf: ArrayBuffer) => T): T => { const c = new Uint8Array(len); c.set(b.subarray(at, at + len)); return make(c.buffer); };
  const fo = SAMPLES_HEADER, lo = fo + n * dim * 4, ao = lo + n, ro = ao + n, po = ro + n * 4;
  const features = copy(fo, n * dim * 4, (x) => new Float32Array(x));
  const labels = copy(lo, n, (x) => new Uint8Array(x));
  const actions = copy(ao, n, (x) => new Uint8Array(x));
  const rewards = copy(ro, n * 4, (x) => new Float32Array(x));
  const pts = copy(po, n * 8, (x) => new Float64Array(x));
  for (let i = 0; i < n; i++) {
    if (labels[i]! >= classes && labels[i] !== NO_LABEL) throw new BlobError(`samples.labels[${i}]: ${labels[i]} is neither a class below ${classes} nor ${NO_LABEL} (no label)`);
    if (actions[i]! >= classes) throw new BlobError(`samples.actions[${i}]: ${actions[i]} is not a class below ${classes}`);
    const r = rewards[i]!;
    if (!Number.isNaN(r) && !(r >= REWARD_MIN && r <= REWARD_MAX)) throw new BlobError(`samples.rewards[${i}]: ${r} must be in ${REWARD_MIN}..${REWARD_MAX} (or NaN: no reward yet)`);
    if (!Number.isFinite(pts[i]) || pts[i]! < 0) throw new BlobError(`samples.pts[${i}]: ${pts[i]} must be a finite number ≥ 0`);
  }
  for (let i = 0; i < features.length; i++) if (!Number.isFinite(features[i])) throw new BlobError(`samples.features[${i}]: not a finite number`);
  return { dim, classes, features, labels, feedback: { actions, rewards, pts } };
}

/** The weights block a training call returned, with its metrics (JSON object). */
export interface TrainOutput {
  weights: ClassifierWeights;
  metrics: Record<string, number>;
}

/** Parses `rd_train`'s output: magic, dim, classes, metrics length, W f32, b f32, metrics JSON. */
export function decodeWeightsBlock(b: Uint8Array, expect?: { dim: number; classes: number }): TrainOutput {
  if (b.byteLength < WEIGHTS_HEADER) throw new BlobError(`weights block: ${b.byteLength} bytes, shorter than the ${WEIGHTS_HEADER}-byte header`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (dv.getUint32(0, true) !== WEIGHTS_MAGIC) throw new BlobError('weights block: does not start with "RDW1"');
  const dim = dv.getUint32(4, true), classes = dv.getUint32(8, true), mlen = dv.getUint32(12, true);
  if (expect && (dim !== expect.dim || classes !== expect.classes)) throw new BlobError(`weights block: ${dim}×${classes}, the task trains ${expect.dim}×${expect.classes}`);
  const nw = dim * classes;
  const want = WEIGHTS_HEADER + (nw + classes) * 4 + mlen;
  if (b.byteLength !== want) throw new BlobError(`weights block: ${b.byteLength} bytes, its header (dim ${dim}, classes ${classes}, metrics ${mlen}) needs exactly ${want}`);
  const copy = new Uint8Array((nw + classes) * 4);
  copy.set(b.subarray(WEIGHTS_HEADER, WEIGHTS_HEADER + copy.byteLength));
  const all = new Float32Array(copy.buffer);
  for (let i = 0; i < all.length; i++) if (!Number.isFinite(all[i])) throw new BlobError(`weights block: value ${i} is not finite (training diverged; lower LearningRate)`);
  return { weights: { dim, classes, weights: all.subarray(0, nw), bias: all.subarray(nw) }, metrics: blockMetrics('weights block: metrics', b.subarray(want - mlen)) };
}

/** A training block's metrics (its JSON object's finite numbers); `field` names them in a refusal. */
export function blockMetrics(field: string, bytes: Uint8Array): Record<string, number> {
  let metrics: unknown;
  try {
    metrics = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new BlobError(`${field} are not JSON`);
  }
  if (!metrics || typeof metrics !== 'object' || Array.isArray(metrics)) throw new BlobError(`${field} must be a JSON object`);
  const m: Record<string, number> = {};
  for (const [k, v] of Object.entries(metrics)) if (typeof v === 'number' && Number.isFinite(v)) m[k] = v;
  return m;
}

/** Weights as base64 of W then b (float32 LE): how they travel in a TaskResult. */
export function weightsToBase64(w: ClassifierWeights): string {
  const all = new Float32Array(w.weights.length + w.bias.length);
  all.set(w.weights); all.set(w.bias, w.weights.length);
  return Buffer.from(all.buffer).toString('base64');
}

/** The inverse of weightsToBase64, checked against the declared shape. */
export function weightsFromBase64(field: string, text: string, dim: number, classes: number): ClassifierWeights {
  const bytes = Buffer.from(text, 'base64');
  const want = (dim * classes + classes) * 4;
  if (bytes.byteLength !== want) throw new BlobError(`${field}: ${bytes.byteLength} bytes, ${dim}×${classes} weights and ${classes} biases need ${want}`);
  const copy = new Uint8Array(bytes);
  const all = new Float32Array(copy.buffer);
  for (let i = 0; i < all.length; i++) if (!Number.isFinite(all[i])) throw new BlobError(`${field}: value ${i} is not finite`);
  return { dim, classes, weights: all.subarray(0, dim * classes), bias: all.subarray(dim * classes) };
}
