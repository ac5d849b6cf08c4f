// Frame features for retrieval (TaskType 4, feature extraction): a 128-dimensional descriptor
// per frame or crop — 64 low-frequency DCT coefficients of the grey image (structure) and a
// 4×4×4 colour histogram (appearance), each half L2-normalised. Near-duplicate frames land
// close together under cosine similarity; an aggregating executor indexes them (ED2).
import { abiVersion, alloc, readInput, output } from "../../../assembly/index";

export function rd_abi_version(): i32 { return abiVersion(); }
export function rd_alloc(size: u32): usize { return alloc(size); }

const N: i32 = 32;

export function rd_process(ptr: usize, len: u32): i64 {
  const inp = readInput(ptr, len);
  const w = <i32>inp.width, h = <i32>inp.height;
  const px = inp.frame;
  // Grey image resampled to 32×32 by box averaging.
  const grey = new Float64Array(N * N);
  for (let y = 0; y < N; y++) {
    const y0 = y * h / N, y1 = max((y + 1) * h / N, y0 + 1);
    for (let x = 0; x < N; x++) {
      const x0 = x * w / N, x1 = max((x + 1) * w / N, x0 + 1);
      let s: f64 = 0;
      for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) {
        const i = (yy * w + xx) * 3;
        s += 0.299 * <f64>px[i] + 0.587 * <f64>px[i + 1] + 0.114 * <f64>px[i + 2];
      }
      grey[y * N + x] = s / <f64>((y1 - y0) * (x1 - x0));
    }
  }
  // 2-D DCT-II, the 8×8 lowest frequencies.
  const vec = new Float64Array(128);
  for (let u = 0; u < 8; u++) for (let v = 0; v < 8; v++) {
    let s: f64 = 0;
    for (let y = 0; y < N; y++) {
      const cy = Math.cos(<f64>((2 * y + 1) * u) * Math.PI / <f64>(2 * N));
      for (let x = 0; x < N; x++) s += grey[y * N + x] * cy * Math.cos(<f64>((2 * x + 1) * v) * Math.PI / <f64>(2 * N));
    }
    vec[u * 8 + v] = (u == 0 && v == 0) ? 0 : s; // brightness (DC) left out: lighting changes should not move the vector
  }
  // Colour histogram, 4 levels per channel.
  for (let i = 0; i < w * h; i++) {
    const r = <i32>px[i * 3] >> 6, g = <i32>px[i * 3 + 1] >> 6, b = <i32>px[i * 3 + 2] >> 6;
    vec[64 + r * 16 + g * 4 + b] += 1;
  }
  for (let half = 0; half < 2; half++) {
    let n: f64 = 0;
    for (let i = half * 64; i < half * 64 + 64; i++) { if (half == 1) vec[i] = Math.sqrt(vec[i]); n += vec[i] * vec[i]; }
    n = Math.sqrt(n);
    if (n > 0) for (let i = half * 64; i < half * 64 + 64; i++) vec[i] = vec[i] / n * 0.7071067811865476;
  }
  let s = "";
  for (let i = 0; i < 128; i++) {
    if (i > 0) s += ",";
    s += (Math.round(vec[i] * 100000) / 100000).toString();
  }
  return output("{\"Results\":[{\"Type\":4,\"FeatureInfo\":{\"Kind\":\"dct64-hist64\",\"Dim\":128,\"Vector\":[" + s + "]},\"ResultData\":{}}]}");
}
