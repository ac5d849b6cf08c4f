// The first version (1.0.0) of the digit network and of its tier parts: 400 → 64 (ReLU) → 10,
// weights drawn from a fixed seed (He-uniform; a network cannot start at zero: every hidden unit
// would learn the same), so the whole package and its parts, built separately, hold the same
// network. `writeInitial(range, out, input)` writes layers [from, to) with the runtime's writer
// (protobufjs over onnx.proto): compiled dist/ when installed, tsx in a checkout.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const SIZES = [400, 64, 10];

export function writeInitial(range, out, input) {
  mkdirSync(path.dirname(out), { recursive: true });
  const src = path.join(root, 'src', 'plugins', 'network-onnx.ts');
  const writer = existsSync(src) ? src : path.join(root, 'dist', 'plugins', 'network-onnx.js');
  const code = `import { writeNetworkOnnx } from ${JSON.stringify(writer)}; import { writeFileSync } from 'node:fs';
const sizes = ${JSON.stringify(SIZES)};
let seed = 2210;
const rand = () => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed / 4294967296; };
const layers = [];
for (let k = 0; k + 1 < sizes.length; k++) {
  const lim = Math.sqrt(6 / sizes[k]);
  layers.push({ inDim: sizes[k], outDim: sizes[k + 1], weights: Float32Array.from({ length: sizes[k] * sizes[k + 1] }, () => (rand() * 2 - 1) * lim), bias: new Float32Array(sizes[k + 1]) });
}
writeFileSync(${JSON.stringify(out)}, writeNetworkOnnx({ layers }, ${JSON.stringify({ channels: 3, ...input })}, ${JSON.stringify(range)}, 'untrained (seeded)'));`;
  const args = writer.endsWith('.ts') ? ['--import', 'tsx', '--input-type=module', '-e', code] : ['--input-type=module', '-e', code];
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) { process.stderr.write(r.stderr); process.exit(1); }
}
