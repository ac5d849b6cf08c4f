/** Tiny ONNX models built in memory (protobuf, just enough for one node), as src/plugins/peak.ts builds its MatMul. */
const varint = (n: number): number[] => { const o: number[] = []; do { let b = n & 0x7f; n = Math.floor(n / 128); if (n) b |= 0x80; o.push(b); } while (n); return o; };
const tag = (field: number, wt: number) => varint(field * 8 + wt);
const bytes = (field: number, b: number[]) => [...tag(field, 2), ...varint(b.length), ...b];
const text = (field: number, s: string) => bytes(field, [...Buffer.from(s)]);
const int = (field: number, n: number) => [...tag(field, 0), ...varint(n)];
const ELEM = { float32: 1, uint8: 2 } as const;

/** y = Identity(x) over a tensor of `dtype` and `dims`. */
export function identityModel(dtype: keyof typeof ELEM, dims: number[]): Buffer {
  const info = (name: string) => [...text(1, name), ...bytes(2, bytes(1, [...int(1, ELEM[dtype]), ...bytes(2, dims.flatMap((d) => bytes(1, int(1, d))))]))];
  const node = [...text(1, 'x'), ...text(2, 'y'), ...text(4, 'Identity')];
  const graph = [...bytes(1, node), ...text(2, 'id'), ...bytes(11, info('x')), ...bytes(12, info('y'))];
  return Buffer.from([...int(1, 8), ...bytes(8, [...text(1, ''), ...int(2, 13)]), ...bytes(7, graph)]);
}
