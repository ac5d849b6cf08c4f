#!/usr/bin/env node
// Builds the example plugins (plugins-sdk/examples/*): AssemblyScript → WebAssembly → a signed
// .rpk in plugins-sdk/examples/build/. The signing key is made here on first build
// (plugins-sdk/examples/build/keys/), never committed; executors that should run the examples
// trust its public key. Usage: node scripts/build-plugins.mjs [--force] [--install]
// --install (the npm install script): the examples are optional, so a failure is reported with
// what to do and the install goes on; run directly, a failure exits non-zero.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const examples = path.join(root, 'plugins-sdk', 'examples');
const out = path.join(examples, 'build');
const force = process.argv.includes('--force');
const install = process.argv.includes('--install');

// The packer and key tools are retinad-plugin (src/plugin-cli.ts). A checkout runs the source
// through tsx, so an edit counts without a build; an installed package has neither src/ nor tsx
// and runs the compiled dist/plugin-cli.js.
function pluginCli() {
  const source = path.join(root, 'src', 'plugin-cli.ts');
  const compiled = path.join(root, 'dist', 'plugin-cli.js');
  if (existsSync(source) && existsSync(path.join(root, 'node_modules', 'tsx'))) return ['--import', 'tsx', source];
  if (existsSync(compiled)) return [compiled];
  throw new Error('neither src/plugin-cli.ts with tsx nor dist/plugin-cli.js is present (in a checkout: npm ci)');
}

try {
  buildAll();
} catch (err) {
  if (!install) throw err;
  console.warn(`retinad: example plugins not built (${err.message.split('\n')[0]}); the runtime does not need them. ` +
    `To build them later: node ${path.join(root, 'scripts', 'build-plugins.mjs')}`);
}

/** Builds every example whose sources are newer than its package. */
function buildAll() {
  const cli = pluginCli();
  mkdirSync(out, { recursive: true });
  const tool = (args) => {
    const r = spawnSync(process.execPath, [...cli, ...args], { cwd: root, encoding: 'utf8' });
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
}
