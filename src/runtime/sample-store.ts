/**
 * The edge's bounded sample store (EC5, DC4): samples an inference task keeps — hard examples
 * whose confidence fell below the task's threshold — per named set, at most `maxPerSet` each
 * (the oldest go first), on disk as one "RDS1" file per set so they survive a restart and are
 * served as they are (`GET /System/Samples/{Set}`, with ranges and a SHA-256). Samples stay
 * here until someone with the node token asks for them.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { decodeSamples, encodeSamples } from '../plugins/train-blob.ts';

/** A set name: also a file name, so letters, digits, `_` and `-` only. */
export const SAMPLE_SET_NAME = /^[A-Za-z0-9_-]{1,64}$/;

interface Held { dim: number; classes: number; rows: Array<{ x: Float32Array; y: number }> }

export class SampleStore {
  private readonly sets = new Map<string, Held>();
  private readonly cache = new Map<string, { bytes: Buffer; sha256: string }>();

  constructor(private readonly dir: string, readonly maxPerSet = 10_000) {
    mkdirSync(dir, { recursive: true });
  }

  private file(name: string): string {
    return path.join(this.dir, `${name}.rds`);
  }

  private load(name: string): Held | undefined {
    let h = this.sets.get(name);
    if (!h && existsSync(this.file(name))) {
      const s = decodeSamples(readFileSync(this.file(name)));
      h = { dim: s.dim, classes: s.classes, rows: Array.from(s.labels, (y, i) => ({ x: s.features.slice(i * s.dim, (i + 1) * s.dim), y })) };
      this.sets.set(name, h);
    }
    return h;
  }

  /** Keeps one sample (features 0..1, `label` the class it is filed under); the oldest goes when the set is full. */
  add(name: string, features: Float32Array, label: number, classes: number): void {
    if (!SAMPLE_SET_NAME.test(name)) throw new RangeError(`sample set "${name}": letters, digits, _ and - only, at most 64`);
    const h = this.load(name) ?? { dim: features.length, classes, rows: [] };
    if (features.length !== h.dim) throw new RangeError(`sample set ${name}: ${features.length} features, the set holds ${h.dim}`);
    h.rows.push({ x: features, y: Math.max(0, Math.min(classes - 1, label)) });
    if (h.rows.length > this.maxPerSet) h.rows.splice(0, h.rows.length - this.maxPerSet);
    this.sets.set(name, h);
    this.cache.delete(name);
    const bytes = this.encode(h);
    writeFileSync(`${this.file(name)}.tmp`, bytes);
    renameSync(`${this.file(name)}.tmp`, this.file(name));
  }

  private encode(h: Held): Buffer {
    const features = new Float32Array(h.rows.length * h.dim);
    h.rows.forEach((r, i) => features.set(r.x, i * h.dim));
    return encodeSamples({ dim: h.dim, classes: h.classes, features, labels: Uint8Array.from(h.rows, (r) => r.y) });
  }

  /** The set as RDS1 bytes with their SHA-256, or undefined when there is none. */
  read(name: string): { bytes: Buffer; sha256: string } | undefined {
    if (!SAMPLE_SET_NAME.test(name)) return undefined;
    let c = this.cache.get(name);
    if (!c) {
      const h = this.load(name);
      if (!h || !h.rows.length) return undefined;
      const bytes = this.encode(h);
      c = { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
      this.cache.set(name, c);
    }
    return c;
  }

  /** How many samples the set holds. */
  count(name: string): number {
    return this.load(name)?.rows.length ?? 0;
  }
}

/** The grey pixels (0..1) of a float32 or uint8 frame tensor, undoing the manifest's scale, mean and std. */
export function greyOf(tensor: ArrayBuffer, spec: { width: number; height: number; layout: string; dtype: string; scale: number; mean: readonly number[]; std: readonly number[] }): Float32Array {
  const n = spec.width * spec.height;
  const out = new Float32Array(n);
  const f32 = spec.dtype === 'float32' ? new Float32Array(tensor, 0, n * 3) : null;
  const u8 = f32 ? null : new Uint8Array(tensor, 0, n * 3);
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let c = 0; c < 3; c++) {
      const at = spec.layout === 'nchw' ? c * n + j : j * 3 + c;
      s += f32 ? ((f32[at]! * (spec.std[c] ?? 1)) + (spec.mean[c] ?? 0)) / spec.scale : u8![at]!;
    }
    out[j] = Math.min(1, Math.max(0, s / 3 / 255));
  }
  return out;
}
