#!/usr/bin/env node
// Runs the tap suite and ends with the one line CI reads: `N passed, N failed[, N skipped]`.
// tap's own closing summary (`# { total, pass, fail, skip }`) is the source of the counts.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const tapBin = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', 'tap', 'dist', 'esm', 'run.mjs');
const child = spawn(process.execPath, [tapBin, '--reporter=tap', ...process.argv.slice(2)], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString('utf8')).slice(-4096);
});
child.on('close', (code, signal) => {
  const m = [...tail.matchAll(/^# (\{ total: .*\})$/gm)].pop();
  const summary = {};
  if (m) for (const [, k, v] of m[1].matchAll(/(\w+): (\d+)/g)) summary[k] = Number(v);
  const passed = summary.pass ?? 0;
  let failed = summary.fail ?? 0;
  if (!m || (code !== 0 && failed === 0)) failed = Math.max(failed, 1); // tap crashed or a file died
  const skipped = (summary.skip ?? 0) + (summary.todo ?? 0);
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(code ?? (signal ? 1 : 0));
});
