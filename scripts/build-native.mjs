#!/usr/bin/env node
// Builds native/ with cmake-js during `npm install`. The addon is an accelerator, not a
// requirement: if the toolchain is missing the install still succeeds and the runtime falls
// back to the ffmpeg binary (the TypeScript side reports which backend it uses).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');
const strict = force || process.env.RETINAD_NATIVE_STRICT === '1';
// Resolved, not joined to root/node_modules: in an installed package npm hoists cmake-js beside
// retinad (node_modules/cmake-js), not inside it.
let cmakeJs = null;
try {
  cmakeJs = createRequire(path.join(root, 'package.json')).resolve('cmake-js/bin/cmake-js');
} catch {
  cmakeJs = null;
}

if (process.env.RETINAD_SKIP_NATIVE === '1') {
  console.log('retinad: RETINAD_SKIP_NATIVE=1, not building the native addon');
  process.exit(0);
}
if (!cmakeJs) {
  console.log('retinad: cmake-js not installed; skipping native build');
  process.exit(0);
}
// `--out DIR` builds into another folder (the test runner's second addon, without FFmpeg,
// lives in native/build-lite so it never replaces the installed one).
const outAt = process.argv.indexOf('--out');
const out = outAt > 0 && process.argv[outAt + 1] ? process.argv[outAt + 1] : 'native/build';
const args = [cmakeJs, 'compile', '-d', '.', '--out', out];
if (process.env.RETINAD_WITH_FFMPEG === '0') args.push('--CDRETINAD_WITH_FFMPEG=OFF');
// A build meant to be copied to another machine must not use this CPU's vector extensions.
if (process.env.RETINAD_PORTABLE === '1') args.push('--CDRETINAD_PORTABLE=ON');
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  const msg = 'retinad: native addon build failed; the ffmpeg-binary backend will be used';
  if (strict) { console.error(msg); process.exit(r.status ?? 1); }
  console.warn(msg);
}
