// Writes the package's first model, build/digits.onnx: a classifier head with zero weights (every
// class equally likely) that training tasks (TaskType 7) improve version by version. Uses the
// runtime's ONNX writer (protobufjs over onnx.proto): compiled dist/ when installed, tsx in a checkout.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..', '..');
const out = path.join(here, 'build', 'digits.onnx');
mkdirSync(path.dirname(out), { recursive: true });
const compiled = path.join(root, 'dist', 'plugins', 'onnx-writer.js');
const writer = existsSync(path.join(root, 'src', 'plugins', 'onnx-writer.ts')) ? path.join(root, 'src', 'plugins', 'onnx-writer.ts') : compiled;
const code = `import { writeClassifierOnnx } from ${JSON.stringify(writer)}; import { writeFileSync } from 'node:fs';
writeFileSync(${JSON.stringify(out)}, writeClassifierOnnx({ dim: 400, classes: 10, weights: new Float32Array(4000), bias: new Float32Array(10) }, { channels: 3, height: 20, width: 20 }, 'untrained'));`;
const args = writer.endsWith('.ts') ? ['--import', 'tsx', '--input-type=module', '-e', code] : ['--input-type=module', '-e', code];
const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
if (r.status !== 0) { process.stderr.write(r.stderr); process.exit(1); }
