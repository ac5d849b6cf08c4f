#!/usr/bin/env node
// Compiles src/ to dist/ (tsc -p tsconfig.build.json) and copies the files tsc does not emit
// (.json and other non-TypeScript files; the sandbox worker is TypeScript too) beside the
// compiled code, so dist/ runs on plain Node: the installed package needs no TypeScript. Runs from `prepare`, i.e. after `npm ci` in a checkout and before
// `npm pack`. dist/ is removed first so a deleted source cannot leave a stale module behind.
// `--out DIR` (a folder beside src/, so paths from the code to the root hold) builds there
// instead: npm test builds the CLI its tests start as child processes into .test-dist/, which a
// test that packs the checkout (and so rebuilds dist/) cannot pull away from under them.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');
const outAt = process.argv.indexOf('--out');
const dist = path.join(root, outAt > 0 ? process.argv[outAt + 1] ?? 'dist' : 'dist');
if (path.dirname(dist) !== root) {
  console.error(`retinad: --out must name a folder beside src/ (the code finds the root one level up), not ${dist}`);
  process.exit(2);
}

let tsc;
try {
  tsc = createRequire(path.join(root, 'package.json')).resolve('typescript/bin/tsc');
} catch {
  // An installed package ships dist/ and has no devDependencies: nothing to do there.
  if (existsSync(path.join(dist, 'cli.js'))) process.exit(0);
  console.error('retinad: typescript is not installed and dist/ is missing; run `npm ci` in a checkout');
  process.exit(1);
}

rmSync(dist, { recursive: true, force: true });
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', dist], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);

let copied = 0;
for (const f of readdirSync(src, { recursive: true, withFileTypes: true })) {
  if (!f.isFile() || f.name.endsWith('.ts')) continue;
  const from = path.join(f.parentPath ?? f.path, f.name); // .path before Node 20.12
  const to = path.join(dist, path.relative(src, from));
  mkdirSync(path.dirname(to), { recursive: true });
  copyFileSync(from, to);
  copied++;
}
console.log(`retinad: compiled src/ to ${path.relative(root, dist)}/ (${copied} non-TypeScript file${copied === 1 ? '' : 's'} copied)`);
