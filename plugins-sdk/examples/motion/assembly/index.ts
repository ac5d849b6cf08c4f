// Motion detection (TaskType 6, a classic algorithm): frame differencing on grey levels
// between the previous and the current frame, changed cells of a 16x16 grid merged into
// boxes. Pure WebAssembly, no model.
import { abiVersion, alloc, readInput, output, Input } from "../../../assembly/index";

export function rd_abi_version(): i32 { return abiVersion(); }
export function rd_alloc(size: u32): usize { return alloc(size); }

const CELL: i32 = 16;

export function rd_process(ptr: usize, len: u32): i64 {
  const inp: Input = readInput(ptr, len);
  const w = <i32>inp.width, h = <i32>inp.height;
  const cur = inp.frame;
  const maybePrev = inp.previous;
  if (maybePrev === null) return output("{\"Results\":[{\"Type\":4,\"ResultData\":{\"Motion\":false,\"ChangedRatio\":0,\"Boxes\":[],\"Warmup\":true}}]}");
  const prev = changetype<Uint8Array>(maybePrev);
  const threshold = <i32>inp.argNumber("Threshold", 25);
  const minCellRatio = inp.argNumber("MinCellRatio", 0.1);
  const gw = (w + CELL - 1) / CELL, gh = (h + CELL - 1) / CELL;
  const cells = new Int32Array(gw * gh);
  let changed = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      // Rec. 601 luma, integer.
      const a = (77 * <i32>cur[i] + 150 * <i32>cur[i + 1] + 29 * <i32>cur[i + 2]) >> 8;
      const b = (77 * <i32>prev[i] + 150 * <i32>prev[i + 1] + 29 * <i32>prev[i + 2]) >> 8;
      if (abs(a - b) > threshold) {
        changed++;
        cells[(y / CELL) * gw + x / CELL]++;
      }
    }
  }
  // Cells with enough changed pixels, grown into boxes by flood fill over the grid.
  const on = new Uint8Array(gw * gh);
  for (let c = 0; c < gw * gh; c++) if (<f64>cells[c] >= minCellRatio * <f64>(CELL * CELL)) on[c] = 1;
  let boxes = "";
  const stack = new Array<i32>();
  for (let c = 0; c < gw * gh; c++) {
    if (on[c] != 1) continue;
    let x0 = c % gw, x1 = x0, y0 = c / gw, y1 = y0;
    on[c] = 2;
    stack.push(c);
    while (stack.length > 0) {
      const k = stack.pop();
      const kx = k % gw, ky = k / gw;
      if (kx < x0) x0 = kx;
      if (kx > x1) x1 = kx;
      if (ky < y0) y0 = ky;
      if (ky > y1) y1 = ky;
      for (let d = 0; d < 4; d++) {
        const nx = kx + (d == 0 ? 1 : d == 1 ? -1 : 0), ny = ky + (d == 2 ? 1 : d == 3 ? -1 : 0);
        if (nx < 0 || ny < 0 || nx >= gw || ny >= gh) continue;
        const n = ny * gw + nx;
        if (on[n] == 1) { on[n] = 2; stack.push(n); }
      }
    }
    const bx = x0 * CELL, by = y0 * CELL;
    const bw = min((x1 + 1) * CELL, w) - bx, bh = min((y1 + 1) * CELL, h) - by;
    if (boxes.length > 0) boxes += ",";
    boxes += "{\"x\":" + bx.toString() + ",\"y\":" + by.toString() + ",\"w\":" + bw.toString() + ",\"h\":" + bh.toString() + "}";
  }
  const ratio = <f64>changed / <f64>(w * h);
  const motion = boxes.length > 0;
  return output("{\"Results\":[{\"Type\":4,\"ResultData\":{\"Motion\":" + (motion ? "true" : "false") +
    ",\"ChangedRatio\":" + (Math.round(ratio * 10000) / 10000).toString() + ",\"Boxes\":[" + boxes + "]}}]}");
}
