#!/usr/bin/env node
// Builds the example plugins (plugins-sdk/examples/*): AssemblyScript → WebAssembly → a signed
// .rpk in plugins-sdk/examples/build/. The signing key is made here on first build
// (plugins-sdk/examples/build/keys/), never committed; executors that should run the examples
// trust its public key. Usage: node scripts/build-plugins.mjs [--force]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const examples = path.join(root, 'plugins-sdk', 'examples');
const out = path.join(examples, 'build');
const force = process.argv.includes('--force');
mkdirSync(out, { recursive: true });

// The packer and key tools are TypeScript: run them through tsx in a child.
const tool = (args) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'plugins-sdk', 'cli.ts'), ...args], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`retinad-plugin ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
};

const keys = path.join(out, 'keys');
if (!existsSync(path.join(keys, 'publisher.key'))) tool(['keygen', '--out', keys]);

const newest = (dir) => readdirSync(dir, { recursive: true }).map((f) => statSync(path.join(dir, String(f))).mtimeMs).reduce((a, b) => Math.max(a, b), 0);
for (const name of readdirSync(examples)) {
  const dir = path.join(examples, name);
  if (name === 'build' || !existsSync(path.join(dir, 'plugin.json'))) continue;
  const manifest = JSON.parse(readFileSync(path.join(dir, 'plugin.json'), 'utf8'));
  const rpk = path.join(out, `${manifest.AlgType}-${manifest.AlgVersion}.rpk`);
  const sdkTime = newest(path.join(root, 'plugins-sdk', 'assembly'));
  if (!force && existsSync(rpk) && statSync(rpk).mtimeMs > Math.max(newest(dir), sdkTime)) continue;
  tool(['build', '--dir', dir]);
  tool(['pack', '--dir', dir, '--key', path.join(keys, 'publisher.key'), '--out', rpk]);
  console.log(`built ${path.relative(root, rpk)}`);
}
writeFileSync(path.join(out, 'README.txt'), 'Built by scripts/build-plugins.mjs; not committed.\n');
