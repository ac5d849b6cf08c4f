/**
 * The package an operator installs: `npm pack` the checkout, `npm install` the tarball into an
 * empty directory (no devDependencies: no TypeScript, no tsx), then run what the package offers —
 * `retinad version`, `retinad bench --quick`, and a scheduler with one executor that registers and
 * stops on SIGTERM.
 * Slow by nature: the install compiles the native addon (better-sqlite3 comes from the checkout's build).
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

// The file-wide timeout (package.json tap.timeout, 300 s) is too short for an install that
// compiles two native addons on a busy CI machine; this asks the runner for 25 minutes.
t.setTimeout(1_500_000);

const root = path.resolve(import.meta.dirname, '..');
const version = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;

// The nested npm must not inherit this run's npm_* variables (prefix, package and lifecycle
// fields) when the suite runs under `npm test`, except where to find packages: the cache that
// the checkout's install filled, the registry, the user's config and proxies.
// onnxruntime-node's postinstall downloads a GPU build, which cannot work offline: skip it.
const KEEP = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig', 'npm_config_globalconfig', 'npm_config_proxy', 'npm_config_https_proxy', 'npm_config_noproxy']);
const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_') || KEEP.has(k.toLowerCase())));
Object.assign(env, { npm_config_onnxruntime_node_install: 'skip', npm_config_update_notifier: 'false', RETINAD_SKIP_SELF_BENCH: '1' });

/** Runs a command to its end and resolves with its stdout; rejects with all its output when it fails or outlives `timeoutMs`. */
function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stdout = '';
    child.stdout.on('data', (c) => { out += c; stdout += c; });
    child.stderr.on('data', (c) => (out += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${code ?? signal}:\n${out.slice(-4000)}`));
    });
  });
}

interface Daemon { child: ChildProcess; url: string; exited: Promise<number | null>; output: () => string }

/**
 * Starts a long-running `retinad <role>` from the installed bin (what `npm install -g` puts on
 * PATH) and resolves with the URL it prints when it listens. Not through npx: npx runs the bin
 * under `sh -c` and a SIGTERM sent to npx does not reach the daemon, which would be orphaned.
 */
function startDaemon(cwd: string, args: string[], timeoutMs = 60_000): Promise<Daemon> {
  const child = spawn(path.join(cwd, 'node_modules', '.bin', 'retinad'), args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`retinad ${args[0]} did not listen within ${timeoutMs} ms:\n${out}`)); }, timeoutMs);
    const onData = (c: Buffer) => {
      out += c;
      const url = new RegExp(`^retinad ${args[0]} listening on (\\S+)$`, 'm').exec(out)?.[1];
      if (url !== undefined) { clearTimeout(timer); resolve({ child, url, exited, output: () => out }); }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => (out += c));
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`retinad ${args[0]} exited with ${code} before it listened:\n${out}`)); });
  });
}

/** SIGTERM, then the exit code; SIGKILL only if it has not exited within `graceMs` (then null). */
async function stop(d: Daemon, graceMs = 15_000): Promise<number | null> {
  if (d.child.exitCode !== null || d.child.signalCode !== null) return d.child.exitCode;
  d.child.kill('SIGTERM');
  const t = setTimeout(() => d.child.kill('SIGKILL'), graceMs);
  const code = await d.exited;
  clearTimeout(t);
  return code;
}

t.test('npm pack → npm install → retinad version and a scheduler with one executor', async (t) => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'retinad-pkg-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const packDir = path.join(tmp, 'pack');
  const app = path.join(tmp, 'app');
  mkdirSync(packDir);
  mkdirSync(app);
  // Its own package.json keeps npm from walking up to another project's root.
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'retinad-pkg-test', private: true }));

  // `prepare` compiles dist/ first, so the tarball holds this checkout's code.
  await run('npm', ['pack', '--pack-destination', packDir], root, 300_000);
  const tgz = readdirSync(packDir).find((f) => f.endsWith('.tgz'));
  t.equal(tgz, `retinad-${version}.tgz`, 'npm pack wrote the tarball');
  // better-sqlite3 has no prebuilt binary to download here, so its install would compile SQLite
  // (a minute of CPU) that the checkout's own `npm ci` on this machine has just compiled, same
  // version: its prebuild-install is handed that build as a local prebuild instead.
  const prebuilds = path.join(tmp, 'prebuilds');
  mkdirSync(prebuilds);
  const sqlite = JSON.parse(readFileSync(path.join(root, 'node_modules', 'better-sqlite3', 'package.json'), 'utf8')) as { version: string };
  const tarball = `better-sqlite3-v${sqlite.version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  await run('tar', ['-czf', path.join(prebuilds, tarball), '-C', path.join(root, 'node_modules', 'better-sqlite3'), 'build/Release/better_sqlite3.node'], root, 60_000);
  env.npm_config_better_sqlite3_local_prebuilds = prebuilds;
  await run('npm', ['install', path.join(packDir, tgz!), '--prefer-offline', '--no-audit', '--no-fund', '--onnxruntime-node-install=skip'], app, 1_200_000);
  const sqliteBuild = path.join(app, 'node_modules', 'better-sqlite3', 'build', 'Release');
  t.ok(existsSync(path.join(sqliteBuild, 'better_sqlite3.node')) && !existsSync(path.join(sqliteBuild, 'obj.target')), 'better-sqlite3 installed from the local prebuild, not compiled');

  const pkg = path.join(app, 'node_modules', 'retinad');
  t.ok(existsSync(path.join(pkg, 'dist', 'cli.js')), 'the package ships dist/');
  t.notOk(existsSync(path.join(pkg, 'src')), 'and not the TypeScript sources');
  t.notOk(existsSync(path.join(app, 'node_modules', 'typescript')) || existsSync(path.join(app, 'node_modules', 'tsx')), 'no TypeScript toolchain was installed');
  t.ok(existsSync(path.join(pkg, 'plugins-sdk', 'examples', 'build', 'motion_detection-1.0.0.rpk')), 'the install script built the example plugins');

  const v = await run('npx', ['--no', 'retinad', 'version'], app, 60_000);
  t.match(v, new RegExp(`^retinad ${version.replace(/\./g, '\\.')}$`, 'm'), 'prints the package version');
  t.match(v, /^decoder\s+auto → (native|ffmpeg-pipe) \(.+\)$/m, 'names the backend auto uses and why');
  t.match(v, /^addon\s+loaded: /m, 'the native addon was built at install and loads');
  const j = JSON.parse(await run('npx', ['--no', 'retinad', 'version', '--json'], app, 60_000)) as { version: string; decoder: { auto: string } };
  t.equal(j.version, version, '--json has the same version');

  // `retinad bench` works from the installed package alone: clips from the bundled ffmpeg, the example plugin as --plugin.
  const examples = path.join(pkg, 'plugins-sdk', 'examples', 'build');
  const b = JSON.parse(await run(path.join(app, 'node_modules', '.bin', 'retinad'), ['bench', '--quick', '--json', '--plugin', path.join(examples, 'motion_detection-1.0.0.rpk'),
    '--trusted-keys', path.join(examples, 'keys'), '--data-dir', path.join(tmp, 'bench-data')], app, 180_000)) as { decode: Array<{ codec: string; fps1080p: number }>; plugins: Array<{ AlgID: number; steps: Array<{ fps: number }> }> };
  t.ok(b.decode.some((d) => d.codec === 'H.264' && d.fps1080p > 0), 'bench measured H.264 decode capacity');
  t.equal(b.plugins[0]?.AlgID, 2006, 'and the given plugin');
  t.ok(b.plugins[0]?.steps.every((s) => s.fps > 0), 'at each stream count');
  t.ok(existsSync(path.join(tmp, 'bench-data', 'video-perf.json')), 'and left the decode capacity for the executor');

  const token = randomBytes(12).toString('hex');
  const scheduler = await startDaemon(app, ['scheduler', '--listen', '127.0.0.1:0', '--data-dir', path.join(tmp, 'scheduler'), '--token', token]);
  t.teardown(() => { scheduler.child.kill('SIGKILL'); });
  const executor = await startDaemon(app, ['executor', '--listen', '127.0.0.1:0', '--device-id', 'pkg-test', '--data-dir', path.join(tmp, 'executor'), '--scheduler', scheduler.url, '--token', token]);
  t.teardown(() => { executor.child.kill('SIGKILL'); });

  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await fetch(`${scheduler.url}/System/DeviceList`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await r.json()) as { DeviceList?: Array<{ DeviceID: string; Online: boolean }> };
    if (r.status === 200 && (body.DeviceList ?? []).some((d) => d.DeviceID === 'pkg-test' && d.Online)) break;
    if (Date.now() > deadline) throw new Error(`executor not Online within 60 s (HTTP ${r.status}):\n${executor.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  t.pass('the executor registered with the scheduler and is Online');

  t.equal(await stop(executor), 0, 'executor exits 0 on SIGTERM');
  t.equal(await stop(scheduler), 0, 'scheduler exits 0 on SIGTERM');
});
