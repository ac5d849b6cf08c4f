/**
 * Counts the floating-point work of an ONNX graph for a given input size — the numerator of the
 * "TOPS utilisation" figure (achieved FLOP/s ÷ the machine's peak). A minimal protobuf reader
 * takes the nodes and initialiser shapes; the spatial size of every tensor is propagated from
 * the input through strides and resizes, and Conv/ConvTranspose/MatMul/Gemm are counted as
 * 2 × multiply-adds. Element-wise operators are ignored (≪ 1 % of a CNN's work).
 */
import { readFileSync } from 'node:fs';

type Field = { n: number; wt: number; v: number | Uint8Array };

function* fields(b: Uint8Array, start = 0, end = b.length): Generator<Field> {
  let i = start;
  const varint = () => {
    let r = 0, s = 1;
    for (;;) {
      const x = b[i++];
      if (x === undefined) throw new Error('truncated protobuf: a varint runs past the end');
      r += (x & 0x7f) * s;
      if (!(x & 0x80)) return r;
      s *= 128;
    }
  };
  while (i < end) {
    const key = varint();
    const n = Math.floor(key / 8), wt = key & 7;
    if (wt === 0) yield { n, wt, v: varint() };
    else if (wt === 1) { i += 8; yield { n, wt, v: 0 }; }
    else if (wt === 5) { i += 4; yield { n, wt, v: 0 }; }
    else if (wt === 2) { const len = varint(); yield { n, wt, v: b.subarray(i, i + len) }; i += len; }
    else throw new Error(`unsupported protobuf wire type ${wt}`);
  }
}

const str = (u: Uint8Array) => new TextDecoder().decode(u);
function decodePacked(u: Uint8Array): number[] {
  const out: number[] = [];
  let i = 0;
  while (i < u.length) {
    let r = 0, s = 1;
    for (;;) {
      const x = u[i++];
      if (x === undefined) throw new Error('truncated protobuf: a packed varint runs past the end');
      r += (x & 0x7f) * s;
      if (!(x & 0x80)) break;
      s *= 128;
    }
    out.push(r > 2 ** 52 ? r - 2 ** 64 : r);
  }
  return out;
}

interface Tensor { dims: number[]; floats: number[] }
interface Node { op: string; inputs: string[]; outputs: string[]; ints: Map<string, number[]>; floats: Map<string, number[]>; tensor?: Tensor }

/** dims and (when small) float data of a TensorProto. */
function parseTensor(u: Uint8Array): Tensor & { name: string } {
  let name = '';
  const dims: number[] = [];
  let raw: Uint8Array | null = null;
  const floats: number[] = [];
  for (const t of fields(u)) {
    if (t.n === 1) { if (t.v instanceof Uint8Array) dims.push(...decodePacked(t.v)); else dims.push(t.v as number); }
    else if (t.n === 8 && t.v instanceof Uint8Array) name = str(t.v);
    else if (t.n === 9 && t.v instanceof Uint8Array) raw = t.v;
    else if (t.n === 4 && t.v instanceof Uint8Array) { const dv = new DataView(t.v.buffer, t.v.byteOffset, t.v.byteLength); for (let k = 0; k + 4 <= t.v.length && floats.length < 16; k += 4) floats.push(dv.getFloat32(k, true)); }
  }
  if (raw && raw.length <= 64) { const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength); for (let k = 0; k + 4 <= raw.length; k += 4) floats.push(dv.getFloat32(k, true)); }
  return { name, dims, floats };
}

function parseNode(u: Uint8Array): Node {
  const node: Node = { op: '', inputs: [], outputs: [], ints: new Map(), floats: new Map() };
  for (const f of fields(u)) {
    if (f.n === 1 && f.v instanceof Uint8Array) node.inputs.push(str(f.v));
    else if (f.n === 2 && f.v instanceof Uint8Array) node.outputs.push(str(f.v));
    else if (f.n === 4 && f.v instanceof Uint8Array) node.op = str(f.v);
    else if (f.n === 5 && f.v instanceof Uint8Array) {
      let name = '';
      const ints: number[] = [];
      const floats: number[] = [];
      for (const a of fields(f.v)) {
        if (a.n === 1 && a.v instanceof Uint8Array) name = str(a.v);
        else if (a.n === 3 && typeof a.v === 'number') ints.push(a.v);
        else if (a.n === 8) { if (a.v instanceof Uint8Array) ints.push(...decodePacked(a.v)); else ints.push(a.v); }
        else if (a.n === 7 && a.v instanceof Uint8Array) { const dv = new DataView(a.v.buffer, a.v.byteOffset, a.v.byteLength); for (let k = 0; k + 4 <= a.v.length; k += 4) floats.push(dv.getFloat32(k, true)); }
        else if (a.n === 5 && a.v instanceof Uint8Array) node.tensor = parseTensor(a.v); // Constant nodes carry weights here
      }
      if (ints.length) node.ints.set(name, ints);
      if (floats.length) node.floats.set(name, floats);
    }
  }
  return node;
}

export interface FlopCount { gflops: number; convs: number; nodes: number; uncounted: string[] }

/** FLOPs of one forward pass at input height × width (batch 1). */
export function countFlops(file: string, height: number, width: number): FlopCount {
  const b = new Uint8Array(readFileSync(file));
  let graph: Uint8Array | null = null;
  for (const f of fields(b)) if (f.n === 7 && f.v instanceof Uint8Array) graph = f.v;
  if (!graph) throw new Error(`${file}: no graph`);
  const nodes: Node[] = [];
  const shapes = new Map<string, number[]>(); // initialisers
  const floatsOf = new Map<string, number[]>();
  let inputName = '';
  for (const f of fields(graph)) {
    if (!(f.v instanceof Uint8Array)) continue;
    if (f.n === 1) nodes.push(parseNode(f.v));
    else if (f.n === 5) {
      const t = parseTensor(f.v);
      shapes.set(t.name, t.dims);
      if (t.floats.length) floatsOf.set(t.name, t.floats);
    } else if (f.n === 11 && !inputName) {
      for (const v of fields(f.v)) if (v.n === 1 && v.v instanceof Uint8Array) { const n = str(v.v); if (!shapes.has(n)) inputName = n; }
    }
  }
  // Spatial size of each activation, propagated in graph order.
  const hw = new Map<string, [number, number]>([[inputName, [height, width]]]);
  let flops = 0;
  let convs = 0;
  const uncounted = new Set<string>();
  for (const n of nodes) {
    const [output] = n.outputs;
    if (n.op !== 'Constant' || !n.tensor || output === undefined) continue;
    shapes.set(output, n.tensor.dims);
    if (n.tensor.floats.length) floatsOf.set(output, n.tensor.floats);
  }
  // The initialiser shape / small float data of a node's k-th input, when it has one.
  const shapeOf = (n: Node, k: number) => { const name = n.inputs[k]; return name === undefined ? undefined : shapes.get(name); };
  const floatsIn = (n: Node, k: number) => { const name = n.inputs[k]; return name === undefined ? undefined : floatsOf.get(name); };
  for (const n of nodes) {
    if (n.op === 'Constant') continue;
    // The activation among the inputs (others are weights, constants or broadcast scalars).
    const act = n.inputs.find((i) => hw.has(i));
    const src = act ? hw.get(act)! : [height, width] as [number, number];
    let out: [number, number] = src;
    if (n.op === 'Conv' || n.op === 'ConvTranspose') {
      const w = shapeOf(n, 1);
      const [sh = 1, sw = 1] = n.ints.get('strides') ?? [];
      if (n.op === 'Conv') out = [Math.ceil(src[0] / sh), Math.ceil(src[1] / sw)];
      else out = [src[0] * sh, src[1] * sw];
      if (w && w.length === 4) {
        const [co = 0, ciPerGroup = 0, kh = 0, kw = 0] = w;
        const macs = n.op === 'Conv' ? co * ciPerGroup * kh * kw * out[0] * out[1] : co * ciPerGroup * kh * kw * src[0] * src[1];
        flops += 2 * macs;
        convs++;
      }
    } else if (n.op === 'MaxPool' || n.op === 'AveragePool') {
      const [sh = 1, sw = 1] = n.ints.get('strides') ?? [];
      out = [Math.ceil(src[0] / sh), Math.ceil(src[1] / sw)];
    } else if (n.op === 'GlobalAveragePool' || n.op === 'GlobalMaxPool') out = [1, 1];
    else if (n.op === 'Resize' || n.op === 'Upsample') {
      const sc = floatsIn(n, n.op === 'Resize' ? 2 : 1) ?? n.floats.get('scales');
      const [, , sh, sw] = sc ?? [];
      if (sc && sc.length === 4 && sh !== undefined && sw !== undefined) out = [Math.round(src[0] * sh), Math.round(src[1] * sw)];
      else uncounted.add(n.op);
    } else if (n.op === 'MatMul' || n.op === 'Gemm') {
      const w = shapeOf(n, 1);
      const [rows, cols] = w ?? [];
      if (w && w.length === 2 && rows !== undefined && cols !== undefined) { flops += 2 * rows * cols * src[0] * src[1]; convs++; }
      else uncounted.add(n.op);
    }
    for (const o of n.outputs) hw.set(o, out);
  }
  return { gflops: flops / 1e9, convs, nodes: nodes.length, uncounted: [...uncounted] };
}
