/**
 * retinad-plugin — write, build, sign and publish algorithm packages (bin/retinad-plugin.js runs
 * the compiled dist/plugin-cli.js). It lives in src/ so that tsc compiles it with the runtime.
 *   keygen  --out DIR                         make a publisher key pair (publisher.key, publisher.pub)
 *   init    --dir DIR --name NAME [--id N]    scaffold an AssemblyScript plugin
 *   build   --dir DIR                         compile assembly/index.ts → build/plugin.wasm
 *   pack    --dir DIR --out FILE [--key KEY]  package (and sign) as .rpk
 *   sign    --in FILE --key KEY --out FILE    (re)sign a package
 *   verify  FILE (--trusted-keys DIR | --trusted-key PUB | --dev)
 *   publish FILE --scheduler URL [--token T]  upload to the scheduler's algorithm repository
 */
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateKeys, TrustStore } from './plugins/keys.ts';
import { buildPackage, signPackage, verifyPackage, PackageError } from './plugins/package-file.ts';
import type { PluginManifest } from './plugins/manifest.ts';

const require = createRequire(import.meta.url);
// plugins-sdk/ sits beside src/ in a checkout and beside dist/ in an installed package.
const sdkRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'plugins-sdk');

class UsageError extends Error {}
const need = (v: string | undefined, flag: string) => { if (!v) throw new UsageError(`${flag}: is required`); return v; };

/** plugin.json as authors write it: the manifest without `files`, models with a `source` path. */
type PluginJson = Omit<PluginManifest, 'files' | 'models'> & { models?: Array<Omit<NonNullable<PluginManifest['models']>[number], 'file' | 'sha256'> & { source: string }> };

function readPluginJson(dir: string): PluginJson {
  const f = path.join(dir, 'plugin.json');
  if (!existsSync(f)) throw new UsageError(`--dir: ${dir} has no plugin.json`);
  return JSON.parse(readFileSync(f, 'utf8')) as PluginJson;
}

/** A model file: relative to the plugin, absolute, or inside an npm package ("@scope/pkg/assets/x.onnx"). */
function resolveSource(dir: string, source: string): string {
  if (source.startsWith('.') || path.isAbsolute(source)) return path.resolve(dir, source);
  const parts = source.split('/');
  const name = parts.slice(0, source.startsWith('@') ? 2 : 1).join('/');
  const sub = parts.slice(source.startsWith('@') ? 2 : 1).join('/');
  // Package "exports" may hide asset paths from require.resolve: look the package up by folder.
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const candidate = path.join(d, 'node_modules', name, sub);
    if (existsSync(candidate)) return candidate;
    if (path.dirname(d) === d) break;
  }
  throw new UsageError(`models: cannot find ${source}`);
}

function build(dir: string): string {
  const pj = readPluginJson(dir);
  // An example may generate sources first (e.g. a dictionary compiled into the module).
  const pre = path.join(dir, 'prebuild.mjs');
  if (existsSync(pre)) {
    const r = spawnSync(process.execPath, [pre], { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`prebuild failed:\n${r.stderr}`);
  }
  const asc = require.resolve('assemblyscript/bin/asc.js');
  const outFile = path.join(dir, 'build', 'plugin.wasm');
  mkdirSync(path.dirname(outFile), { recursive: true });
  const r = spawnSync(process.execPath, [asc, path.join(dir, 'assembly', 'index.ts'), '--runtime', 'stub', '--importMemory', '--initialMemory', '1',
    '--maximumMemory', String(pj.limits.wasmMemoryPages), '-O3', '--noAssert', '-o', outFile], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`asc failed:\n${r.stderr}`);
  return outFile;
}

function pack(dir: string, out: string, key?: string): void {
  const pj = readPluginJson(dir);
  const wasm = path.join(dir, 'build', 'plugin.wasm');
  if (!existsSync(wasm)) throw new UsageError(`--dir: ${wasm} is missing; run build first`);
  const files = new Map<string, Buffer>([['files/plugin.wasm', readFileSync(wasm)]]);
  const models = (pj.models ?? []).map((m) => {
    const src = resolveSource(dir, m.source);
    const file = `files/models/${path.basename(src)}`;
    files.set(file, readFileSync(src));
    const { source: _s, ...rest } = m;
    void _s;
    return { ...rest, file, sha256: '' };
  });
  const manifest = { ...pj, entry: { wasm: 'files/plugin.wasm' }, ...(models.length ? { models } : {}) } as Omit<PluginManifest, 'files'>;
  // Model hashes are filled from the files themselves.
  for (const m of manifest.models ?? []) m.sha256 = (require('node:crypto') as typeof import('node:crypto')).createHash('sha256').update(files.get(m.file)!).digest('hex');
  const pkg = buildPackage(manifest, files, key ? readFileSync(key, 'utf8') : undefined);
  mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  writeFileSync(out, pkg);
}

const TEMPLATE = `// A retinad plugin. rd_process receives the frame as the manifest's input declares and
// returns JSON: {"Results":[{"Type":4,"ResultData":{...}}]}. See plugins-sdk/include/retinad_plugin.h.
import { abiVersion, alloc, readInput, output } from "SDK";

export function rd_abi_version(): i32 { return abiVersion(); }
export function rd_alloc(size: u32): usize { return alloc(size); }

export function rd_process(ptr: usize, len: u32): i64 {
  const input = readInput(ptr, len);
  const px = input.frame;
  let sum: u64 = 0;
  for (let i = 0; i < px.length; i++) sum += <u64>px[i];
  const mean = <f64>sum / <f64>px.length;
  return output("{\\"Results\\":[{\\"Type\\":4,\\"ResultData\\":{\\"MeanLevel\\":" + mean.toString() + "}}]}");
}
`;

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: {
    out: { type: 'string' }, dir: { type: 'string' }, name: { type: 'string' }, id: { type: 'string' }, key: { type: 'string' }, in: { type: 'string' },
    'trusted-keys': { type: 'string' }, 'trusted-key': { type: 'string' }, dev: { type: 'boolean' }, scheduler: { type: 'string' }, token: { type: 'string' },
  } });
  switch (cmd) {
    case 'keygen': {
      const dir = need(values.out, '--out');
      mkdirSync(dir, { recursive: true });
      const k = generateKeys();
      writeFileSync(path.join(dir, 'publisher.key'), k.privatePem, { mode: 0o600 });
      chmodSync(path.join(dir, 'publisher.key'), 0o600);
      writeFileSync(path.join(dir, 'publisher.pub'), k.publicPem);
      process.stdout.write(`key ${k.keyId}: ${path.join(dir, 'publisher.key')} (keep secret), ${path.join(dir, 'publisher.pub')} (give to executors)\n`);
      return;
    }
    case 'init': {
      const dir = need(values.dir, '--dir');
      const name = need(values.name, '--name');
      if (!/^[a-z][a-z0-9_]{0,100}$/.test(name)) throw new UsageError('--name: lower-case letters, digits and _ (it becomes the AlgType)');
      if (existsSync(path.join(dir, 'plugin.json'))) throw new UsageError(`--dir: ${dir} already has a plugin.json`);
      mkdirSync(path.join(dir, 'assembly'), { recursive: true });
      const sdk = path.relative(path.join(dir, 'assembly'), path.join(sdkRoot, 'assembly', 'index')).replace(/\\/g, '/');
      writeFileSync(path.join(dir, 'assembly', 'index.ts'), TEMPLATE.replace('SDK', sdk.startsWith('.') ? sdk : `./${sdk}`));
      const manifest = {
        abi: 1, AlgID: Number(values.id ?? 5000), AlgType: name, AlgVersion: '0.1.0', TaskType: 6, Description: `${name} plugin`,
        publisher: { name: 'me' }, entry: { wasm: 'files/plugin.wasm' },
        input: { width: 160, height: 90, resize: 'stretch', layout: 'nhwc', dtype: 'uint8', channels: 'rgb' },
        limits: { wasmMemoryPages: 32, callDeadlineMs: 1000, maxOutputBytes: 65536 },
      };
      writeFileSync(path.join(dir, 'plugin.json'), JSON.stringify(manifest, null, 2) + '\n');
      process.stdout.write(`scaffolded ${dir}: edit assembly/index.ts, then build, pack --key, publish\n`);
      return;
    }
    case 'build':
      process.stdout.write(`${build(need(values.dir, '--dir'))}\n`);
      return;
    case 'pack':
      pack(need(values.dir, '--dir'), need(values.out, '--out'), values.key);
      process.stdout.write(`${values.out}\n`);
      return;
    case 'sign':
      writeFileSync(need(values.out, '--out'), signPackage(readFileSync(need(values.in, '--in')), readFileSync(need(values.key, '--key'), 'utf8')));
      return;
    case 'verify': {
      const file = positionals[0] ?? need(values.in, 'FILE');
      const trust = TrustStore.fromDir(values['trusted-keys']);
      if (values['trusted-key']) trust.add(readFileSync(values['trusted-key'], 'utf8'));
      const v = verifyPackage(readFileSync(file), trust, { devMode: values.dev });
      process.stdout.write(`ok: AlgID ${v.manifest.AlgID} ${v.manifest.AlgType} ${v.manifest.AlgVersion}, ${v.files.size} files, ${v.signedBy ? `signed by ${v.signedBy}` : 'UNSIGNED (dev mode)'}\n`);
      return;
    }
    case 'publish': {
      const file = positionals[0] ?? need(values.in, 'FILE');
      const base = need(values.scheduler, '--scheduler').replace(/\/+$/, '');
      const token = values.token ?? process.env.RETINAD_TOKEN;
      const res = await fetch(`${base}/System/AlgorithmRepository`, {
        method: 'POST', body: readFileSync(file), headers: { 'content-type': 'application/octet-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      });
      const body = (await res.json()) as { StatusCode: string; Message?: string; AlgFileURL?: string };
      if (body.StatusCode !== '0') throw new Error(`publish refused (HTTP ${res.status}): ${body.Message}`);
      process.stdout.write(`published: ${body.AlgFileURL}\n`);
      return;
    }
    default:
      throw new UsageError(`unknown command "${cmd ?? ''}" (keygen, init, build, pack, sign, verify, publish)`);
  }
}

main(process.argv.slice(2)).catch((err: Error) => {
  process.stderr.write(`retinad-plugin: ${err.message}\n`);
  process.exit(err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? 2 : err instanceof PackageError ? 3 : 1);
});
