/**
 * A straightforward TypeScript reference for the native preprocess: BT.601 YUV 4:2:0 → RGB,
 * bilinear resize (pixel centres aligned), letterbox, normalisation, NCHW/NHWC. Slow and
 * obvious on purpose: the native result must stay within a stated bound of it.
 */
import type { NativePreprocessSpec } from '../../src/runtime/media/native.ts';

export interface Yuv420 { width: number; height: number; y: Uint8Array; u: Uint8Array; v: Uint8Array; fullRange: boolean }

const clamp = (x: number) => Math.max(0, Math.min(255, x));

/**
 * Separable bilinear (triangle) resampling weights from n source samples to m, widened by the
 * ratio when shrinking so every source pixel counts (the antialiased bilinear of Pillow and
 * swscale), pixel centres aligned.
 */
function weights(n: number, m: number): Array<Array<[number, number]>> {
  const ratio = n / m;
  const support = Math.max(1, ratio);
  const out: Array<Array<[number, number]>> = [];
  for (let i = 0; i < m; i++) {
    const centre = (i + 0.5) * ratio;
    const lo = Math.max(0, Math.floor(centre - support));
    const hi = Math.min(n - 1, Math.ceil(centre + support));
    const ws: Array<[number, number]> = [];
    let sum = 0;
    for (let j = lo; j <= hi; j++) {
      const w = Math.max(0, 1 - Math.abs(j + 0.5 - centre) / support);
      if (w > 0) { ws.push([j, w]); sum += w; }
    }
    if (!ws.length) ws.push([Math.min(n - 1, Math.max(0, Math.floor(centre))), 1]), (sum = 1);
    out.push(ws.map(([j, w]) => [j, w / sum]));
  }
  return out;
}

// The pixel loops below index arrays they sized themselves (or the caller's w × h × 3 pictures)
// with bounds taken from those sizes, so their reads use '!' rather than a check per sample.

/** Bilinear resize of interleaved RGB (antialiased when shrinking). */
export function resizeRgb(src: Float64Array, w: number, h: number, W: number, H: number): Float64Array {
  const wx = weights(w, W), wy = weights(h, H);
  const tmp = new Float64Array(W * h * 3);
  for (let y = 0; y < h; y++) for (let X = 0; X < W; X++) for (let c = 0; c < 3; c++) {
    let v = 0;
    for (const [j, k] of wx[X]!) v += src[(y * w + j) * 3 + c]! * k;
    tmp[(y * W + X) * 3 + c] = v;
  }
  const out = new Float64Array(W * H * 3);
  for (let Y = 0; Y < H; Y++) for (let X = 0; X < W; X++) for (let c = 0; c < 3; c++) {
    let v = 0;
    for (const [j, k] of wy[Y]!) v += tmp[(j * W + X) * 3 + c]! * k;
    out[(Y * W + X) * 3 + c] = v;
  }
  return out;
}

/** Full-resolution Y, U, V (chroma bilinearly upsampled) as interleaved floats. */
function yuvPlanes(img: Yuv420): Float64Array {
  const { width: w, height: h } = img;
  const cw = (w + 1) >> 1, ch = (h + 1) >> 1;
  const out = new Float64Array(w * h * 3);
  const chroma = (plane: Uint8Array, x: number, y: number) => {
    const fx = Math.max(0, Math.min(cw - 1, (x - 0.5) / 2));
    const fy = Math.max(0, Math.min(ch - 1, (y - 0.5) / 2));
    const x0 = Math.floor(fx), y0 = Math.floor(fy);
    const x1 = Math.min(cw - 1, x0 + 1), y1 = Math.min(ch - 1, y0 + 1);
    const ax = fx - x0, ay = fy - y0;
    const p = (i: number, j: number) => plane[j * cw + i]!;
    return (p(x0, y0) * (1 - ax) + p(x1, y0) * ax) * (1 - ay) + (p(x0, y1) * (1 - ax) + p(x1, y1) * ax) * ay;
  };
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = (y * w + x) * 3;
    out[i] = img.y[y * w + x]!;
    out[i + 1] = chroma(img.u, x, y);
    out[i + 2] = chroma(img.v, x, y);
  }
  return out;
}

/** YUV (interleaved floats) → RGB, clamped, BT.601. */
function convert(yuv: Float64Array, fullRange: boolean): Float64Array {
  const out = new Float64Array(yuv.length);
  const k = fullRange ? 1 : 255 / 219;
  const kc = fullRange ? 1 : 255 / 224;
  for (let i = 0; i < yuv.length; i += 3) {
    const yy = fullRange ? yuv[i]! : (yuv[i]! - 16) * k;
    const U = yuv[i + 1]! - 128, V = yuv[i + 2]! - 128;
    out[i] = clamp(yy + 1.402 * kc * V);
    out[i + 1] = clamp(yy - 0.344136 * kc * U - 0.714136 * kc * V);
    out[i + 2] = clamp(yy + 1.772 * kc * U);
  }
  return out;
}

/**
 * The full reference: tensor values as float64 in the spec's layout. Like swscale, it resizes
 * the YUV planes first and converts to RGB (with clamping) after.
 */
export function referenceTensor(img: Yuv420, s: NativePreprocessSpec): Float64Array {
  let cw = s.width, ch = s.height, ox = 0, oy = 0;
  if (s.resize === 'letterbox') {
    const k = Math.min(s.width / img.width, s.height / img.height);
    cw = Math.min(s.width, Math.max(1, Math.round(img.width * k)));
    ch = Math.min(s.height, Math.max(1, Math.round(img.height * k)));
    ox = Math.floor((s.width - cw) / 2);
    oy = Math.floor((s.height - ch) / 2);
  }
  const content = convert(resizeRgb(yuvPlanes(img), img.width, img.height, cw, ch), img.fullRange);
  const W = s.width, H = s.height;
  const out = new Float64Array(W * H * 3);
  const norm = (v: number, c: number) => (s.dtype === 'uint8' ? v : (v * s.scale - s.mean[c]!) / s.std[c]!);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const inside = x >= ox && x < ox + cw && y >= oy && y < oy + ch;
      for (let c = 0; c < 3; c++) {
        const srcC = s.channels === 'bgr' ? 2 - c : c;
        const v = inside ? content[((y - oy) * cw + (x - ox)) * 3 + srcC]! : s.pad;
        const idx = s.layout === 'nchw' ? c * W * H + y * W + x : (y * W + x) * 3 + c;
        out[idx] = norm(v, c);
      }
    }
  }
  return out;
}

/** A smooth random image: each plane bilinearly interpolated from a coarse random grid. */
export function smoothRandomYuv(width: number, height: number, seed: number, fullRange = false): Yuv420 {
  let st = seed >>> 0 || 1;
  const rnd = () => ((st = (st * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  // Natural images have smooth chroma: a coarser grid and a narrower range for U and V.
  const plane = (w: number, h: number, lo: number, hi: number, gw = 6, gh = 5) => {
    const g = Array.from({ length: gw * gh }, () => lo + rnd() * (hi - lo));
    const p = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const fx = (x / Math.max(1, w - 1)) * (gw - 1), fy = (y / Math.max(1, h - 1)) * (gh - 1);
      const x0 = Math.min(gw - 2, Math.floor(fx)), y0 = Math.min(gh - 2, Math.floor(fy));
      const ax = fx - x0, ay = fy - y0;
      const v = (g[y0 * gw + x0]! * (1 - ax) + g[y0 * gw + x0 + 1]! * ax) * (1 - ay) + (g[(y0 + 1) * gw + x0]! * (1 - ax) + g[(y0 + 1) * gw + x0 + 1]! * ax) * ay;
      p[y * w + x] = Math.round(v);
    }
    return p;
  };
  const [lo, hi] = fullRange ? [0, 255] : [16, 235];
  return { width, height, y: plane(width, height, lo, hi), u: plane((width + 1) >> 1, (height + 1) >> 1, 80, 176, 3, 3),
    v: plane((width + 1) >> 1, (height + 1) >> 1, 80, 176, 3, 3), fullRange };
}

/** The packed yuv420p bytes Frame.create takes. */
export function packYuv(img: Yuv420): Buffer {
  return Buffer.concat([img.y, img.u, img.v].map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
}

/** The reference's full-resolution RGB of a picture, rounded to bytes (packed rgb24). */
export function yuvToRgb(img: Yuv420): Buffer {
  const rgb = convert(yuvPlanes(img), img.fullRange);
  return Buffer.from(Uint8Array.from(rgb, (v) => Math.round(v)));
}
