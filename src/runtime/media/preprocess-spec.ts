/** The model-input spec a plugin declares, checked and completed before it reaches C++. */
import { OptionError } from './decoder-options.ts';
import type { NativePreprocessSpec } from './native.ts';

export interface PreprocessSpec {
  width: number;
  height: number;
  resize?: 'letterbox' | 'stretch';
  layout?: 'nchw' | 'nhwc';
  dtype?: 'float32' | 'uint8';
  channels?: 'rgb' | 'bgr';
  /** value = (pixel × scale − mean) / std, per channel (float32 only). */
  mean?: [number, number, number];
  std?: [number, number, number];
  scale?: number;
  /** Letterbox fill, 0–255. */
  pad?: number;
  /** A region of the frame (second-stage models work on crops). */
  crop?: { x: number; y: number; width: number; height: number };
}

const MAX_SIDE = 16384;

/** Throws OptionError naming the field; returns the spec with defaults. */
export function checkPreprocessSpec(s: PreprocessSpec): NativePreprocessSpec {
  for (const k of ['width', 'height'] as const) {
    const v = s[k];
    if (!Number.isInteger(v) || v < 1 || v > MAX_SIDE) throw new OptionError(k, `must be an integer 1..${MAX_SIDE} (got ${JSON.stringify(v)})`);
  }
  const pick = <T extends string>(k: keyof PreprocessSpec, allowed: readonly T[], def: T): T => {
    const v = s[k];
    if (v === undefined) return def;
    if (!allowed.includes(v as T)) throw new OptionError(k, `must be one of ${allowed.join(', ')} (got ${JSON.stringify(v)})`);
    return v as T;
  };
  const triple = (k: 'mean' | 'std', def: [number, number, number]): [number, number, number] => {
    const v = s[k];
    if (v === undefined) return def;
    if (!Array.isArray(v) || v.length !== 3 || v.some((x) => typeof x !== 'number' || !Number.isFinite(x) || (k === 'std' && x === 0))) {
      throw new OptionError(k, `must be three finite numbers${k === 'std' ? ', none zero' : ''}`);
    }
    return [v[0], v[1], v[2]];
  };
  const scale = s.scale ?? 1 / 255;
  if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new OptionError('scale', 'must be a finite number');
  const pad = s.pad ?? 114;
  if (!Number.isInteger(pad) || pad < 0 || pad > 255) throw new OptionError('pad', 'must be an integer 0..255');
  const out: NativePreprocessSpec = {
    width: s.width, height: s.height,
    resize: pick('resize', ['letterbox', 'stretch'] as const, 'letterbox'),
    layout: pick('layout', ['nchw', 'nhwc'] as const, 'nchw'),
    dtype: pick('dtype', ['float32', 'uint8'] as const, 'float32'),
    channels: pick('channels', ['rgb', 'bgr'] as const, 'rgb'),
    mean: triple('mean', [0, 0, 0]), std: triple('std', [1, 1, 1]), scale, pad,
  };
  if (s.crop !== undefined) out.crop = checkCrop(s.crop);
  return out;
}

type Crop = NonNullable<PreprocessSpec['crop']>;

/** Throws OptionError naming the field; returns a copy of the crop. */
export function checkCrop(c: Crop): Crop {
  for (const k of ['x', 'y', 'width', 'height'] as const) {
    if (!c || !Number.isInteger(c[k]) || c[k] < 0 || c[k] > 1e6) throw new OptionError(`crop.${k}`, 'must be a non-negative integer');
  }
  if (c.width < 1 || c.height < 1) throw new OptionError('crop', 'must be at least 1×1');
  return { x: c.x, y: c.y, width: c.width, height: c.height };
}

declare const prepared: unique symbol;
/** A spec checked once (per task): frames take it as it is, without checking it again. */
export type PreparedSpec = Readonly<NativePreprocessSpec> & { readonly [prepared]: true };

const preparedSpecs = new WeakSet<object>();

/**
 * Checks `s` once and returns it frozen, so it cannot change after the check: a frame's
 * `preprocess` takes it without checking again (a per-box crop is checked on its own).
 */
export function preparePreprocessSpec(s: PreprocessSpec): PreparedSpec {
  const out = checkPreprocessSpec(s);
  Object.freeze(out.mean);
  Object.freeze(out.std);
  if (out.crop) Object.freeze(out.crop);
  preparedSpecs.add(Object.freeze(out));
  return out as PreparedSpec;
}

/** True for what `preparePreprocessSpec` returned. */
export function isPrepared(s: PreprocessSpec | PreparedSpec): s is PreparedSpec {
  return preparedSpecs.has(s);
}

/**
 * The spec the addon gets for one frame: a prepared one as it is (with a crop: the crop alone
 * is checked), anything else checked in full.
 */
export function frameSpec(s: PreprocessSpec | PreparedSpec, crop?: Crop): NativePreprocessSpec {
  if (isPrepared(s)) return crop ? { ...s, crop: checkCrop(crop) } : s;
  return checkPreprocessSpec(crop ? { ...s, crop } : s);
}

/** Bytes the tensor of `s` needs. */
export function tensorBytes(s: Readonly<NativePreprocessSpec>): number {
  return s.width * s.height * 3 * (s.dtype === 'float32' ? 4 : 1);
}
