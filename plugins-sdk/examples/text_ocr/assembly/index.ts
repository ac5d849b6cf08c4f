// Text detection + recognition (TaskType 8) on the PaddleOCR PP-OCRv4 models.
// Stage 1 (rd_process): DB post-processing of the detection probability map — threshold,
// connected components, box score, unclip — into text boxes.
// Stage 2 (rd_process_crop, once per box): greedy CTC decoding of the recognition output
// against the dictionary compiled into this module.
import { abiVersion, alloc, readInput, output, Input } from "../../../assembly/index";
import { DICT, DICT_SIZE } from "./dict";

export function rd_abi_version(): i32 { return abiVersion(); }
export function rd_alloc(size: u32): usize { return alloc(size); }

/** Reads "dims":[a,b,...] of the n-th tensor from the host's __tensors note. */
function tensorDims(inp: Input, n: i32): Array<i32> {
  const dims = new Array<i32>();
  let at = 0;
  for (let k = 0; k <= n; k++) {
    at = inp.args.indexOf("\"dims\":[", at);
    if (at < 0) return dims;
    at += 8;
  }
  const end = inp.args.indexOf("]", at);
  const parts = inp.args.substring(at, end).split(",");
  for (let i = 0; i < parts.length; i++) dims.push(<i32>parseInt(parts[i]));
  return dims;
}

function jsonEscape(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 34) out += "\\\"";
    else if (c == 92) out += "\\\\";
    else if (c < 32) out += " ";
    else out += String.fromCharCode(c);
  }
  return out;
}

export function rd_process(ptr: usize, len: u32): i64 {
  const inp = readInput(ptr, len);
  if (inp.buffers.length < 2) return output("{\"Results\":[]}");
  const dims = tensorDims(inp, 0);
  const h = dims.length == 4 ? dims[2] : <i32>inp.height;
  const w = dims.length == 4 ? dims[3] : <i32>inp.width;
  const prob = inp.buffers[1].dataStart;
  const thresh = <f32>inp.argNumber("BinaryThreshold", 0.3);
  const boxThresh = inp.argNumber("BoxThreshold", 0.6);
  const unclip = inp.argNumber("UnclipRatio", 1.5);
  const minSize = <i32>inp.argNumber("MinSize", 3);
  const n = w * h;
  const mark = new Uint8Array(n);
  for (let i = 0; i < n; i++) if (load<f32>(prob + (<usize>i << 2)) > thresh) mark[i] = 1;
  const stack = new Array<i32>();
  let boxes = "";
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (mark[i] != 1) continue;
    let x0 = i % w, x1 = x0, y0 = i / w, y1 = y0;
    let area = 0;
    let score: f64 = 0;
    mark[i] = 2;
    stack.push(i);
    while (stack.length > 0) {
      const k = stack.pop();
      const kx = k % w, ky = k / w;
      area++;
      score += <f64>load<f32>(prob + (<usize>k << 2));
      if (kx < x0) x0 = kx;
      if (kx > x1) x1 = kx;
      if (ky < y0) y0 = ky;
      if (ky > y1) y1 = ky;
      if (kx + 1 < w && mark[k + 1] == 1) { mark[k + 1] = 2; stack.push(k + 1); }
      if (kx > 0 && mark[k - 1] == 1) { mark[k - 1] = 2; stack.push(k - 1); }
      if (ky + 1 < h && mark[k + w] == 1) { mark[k + w] = 2; stack.push(k + w); }
      if (ky > 0 && mark[k - w] == 1) { mark[k - w] = 2; stack.push(k - w); }
    }
    const bw = x1 - x0 + 1, bh = y1 - y0 + 1;
    if (bw < minSize || bh < minSize) continue;
    const mean = score / <f64>area;
    if (mean < boxThresh) continue;
    // Unclip: the map marks a shrunk text core; grow the box by area × ratio / perimeter.
    const d = <f64>(bw * bh) * unclip / <f64>(2 * (bw + bh));
    const ux = max<f64>(0, <f64>x0 - d), uy = max<f64>(0, <f64>y0 - d);
    const uw = min<f64>(<f64>w - ux, <f64>bw + 2 * d), uh = min<f64>(<f64>h - uy, <f64>bh + 2 * d);
    if (count > 0) boxes += ",";
    boxes += "{\"x\":" + (<i32>ux).toString() + ",\"y\":" + (<i32>uy).toString() + ",\"w\":" + (<i32>uw).toString() + ",\"h\":" + (<i32>uh).toString() +
      ",\"Score\":" + (Math.round(mean * 1000) / 1000).toString() + "}";
    count++;
  }
  return output("{\"Results\":[{\"Type\":5,\"ResultData\":{\"Kind\":\"text\",\"Boxes\":[" + boxes + "]}}]}");
}

let dictIndex: Array<string> | null = null;

export function rd_process_crop(ptr: usize, len: u32): i64 {
  const inp = readInput(ptr, len);
  if (inp.buffers.length < 2) return output("{\"Text\":\"\",\"Score\":0}");
  const dims = tensorDims(inp, 0);
  const steps = dims.length == 3 ? dims[1] : 0;
  const classes = dims.length == 3 ? dims[2] : 0;
  if (classes != DICT_SIZE + 1) return output("{\"Text\":\"\",\"Score\":0,\"Error\":\"model classes do not match the dictionary\"}");
  if (dictIndex === null) dictIndex = DICT.split("\n");
  const dict = changetype<Array<string>>(dictIndex);
  const base = inp.buffers[1].dataStart;
  let text = "";
  let last = -1;
  let sum: f64 = 0;
  let kept = 0;
  for (let s = 0; s < steps; s++) {
    let best = 0;
    let bv: f32 = -1;
    const row = base + (<usize>(s * classes) << 2);
    for (let c = 0; c < classes; c++) {
      const v = load<f32>(row + (<usize>c << 2));
      if (v > bv) { bv = v; best = c; }
    }
    // CTC: collapse repeats, drop the blank (class 0).
    if (best != 0 && best != last) {
      text += dict[best - 1];
      sum += <f64>bv;
      kept++;
    }
    last = best;
  }
  const score = kept > 0 ? sum / <f64>kept : 0;
  return output("{\"Text\":\"" + jsonEscape(text.trim()) + "\",\"Score\":" + (Math.round(score * 1000) / 1000).toString() + "}");
}
