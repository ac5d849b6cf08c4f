/**
 * No telemetry leaves a node on its own. onnxruntime-node 1.30's Linux build collects telemetry
 * for Microsoft: on first load it writes a persistent device ID under ~/.cache/Microsoft, an event
 * database beside it and a log file in the temp directory, and starts an uploader. Our processes
 * opt out (src/plugins/ort-env.ts) unless the operator set ORT_DISABLE_TELEMETRY: checked here on
 * real child processes that load ONNX Runtime the two ways a node does (the command line's
 * provider probe on the main thread, and a plugin's model in a pool worker), each with a HOME and
 * a temp directory of its own, so any file ONNX Runtime writes is seen. The control run with
 * ORT_DISABLE_TELEMETRY=0 proves the check sees those files, and that the operator's choice wins.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { retinad } from '../helpers/entry.ts';

const root = path.resolve(import.meta.dirname, '..', '..');

/** The variables by which onnxruntime 1.30 recognises a CI system (in its library's strings; CI by trying it). */
const CI_MARKERS = ['CI', 'TF_BUILD', 'GITHUB_ACTIONS', 'GITLAB_CI', 'CIRCLECI', 'TRAVIS', 'JENKINS_URL', 'CODEBUILD_BUILD_ID', 'BUILDKITE', 'TEAMCITY_VERSION', 'APPVEYOR', 'BITBUCKET_BUILD_NUMBER'];

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

/** Runs node `args` with a fresh HOME, cache and temp directory; `telemetry` is the variable's value, or absent. */
function runIsolated(dir: string, args: string[], telemetry?: string): { status: number | null; stdout: string; out: string; home: string[]; tmp: string[] } {
  const home = path.join(dir, 'home');
  const tmp = path.join(dir, 'tmp');
  mkdirSync(home, { recursive: true });
  mkdirSync(tmp, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_CACHE_HOME: path.join(home, '.cache'), TMPDIR: tmp };
  delete env.ORT_DISABLE_TELEMETRY;
  // ONNX Runtime turns its telemetry off by itself where it sees a CI system's variable (CI=true,
  // GITHUB_ACTIONS, ...): without these, both runs see what an operator's node sees.
  for (const name of CI_MARKERS) delete env[name];
  // tap's own preload would write its process records into the temp directory under test.
  delete env.NODE_OPTIONS;
  if (telemetry !== undefined) env.ORT_DISABLE_TELEMETRY = telemetry;
  const r = spawnSync(process.execPath, args, { cwd: root, env, encoding: 'utf8', timeout: 120_000 });
  // tsx's compile cache (the test running src/ from source) is the only other writer there.
  return { status: r.status, stdout: r.stdout, out: `${r.stdout}${r.stderr}`, home: filesUnder(home), tmp: filesUnder(tmp).filter((f) => !f.startsWith('tsx-')) };
}

t.test('the command line: `retinad version --providers` loads ONNX Runtime and leaves no device ID, database or log', async (t) => {
  const dir = t.testdir({});
  const r = runIsolated(path.join(dir, 'ours'), [...retinad, 'version', '--json', '--providers']);
  t.equal(r.status, 0, r.out.slice(-2000));
  t.match(JSON.parse(r.stdout) as unknown, { executionProviders: { cpu: { ok: true } } }, 'ONNX Runtime loaded and ran a session');
  t.strictSame(r.home, [], 'nothing written under HOME');
  t.strictSame(r.tmp, [], 'nothing written in the temp directory');

  const control = runIsolated(path.join(dir, 'control'), [...retinad, 'version', '--json', '--providers'], '0');
  t.equal(control.status, 0, control.out.slice(-2000));
  t.ok(control.home.some((f) => f.endsWith(path.join('.onnxruntime', 'deviceid'))), `with ORT_DISABLE_TELEMETRY=0 (the operator's choice) ONNX Runtime does write its device ID: ${control.home.join(', ') || `nothing; its output: ${control.out.slice(-600)}`}`);
});

t.test('a plugin pool: a model loaded in a worker thread leaves no device ID, database or log', async (t) => {
  const dir = t.testdir({});
  t.equal(spawnSync(process.execPath, [path.join(root, 'scripts', 'build-plugins.mjs')]).status, 0, 'example plugins built');
  const src = (f: string) => JSON.stringify(pathToFileURL(path.join(root, 'src', f)).href);
  const script = path.join(dir, 'pool.ts');
  // What the executor does with an ONNX package: install it (its trial run creates the worker's session), then call it.
  writeFileSync(script, `
import { readFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PluginPool } from ${src('plugins/pool.ts')};
import { PluginRegistry } from ${src('plugins/registry.ts')};
import { TrustStore } from ${src('plugins/keys.ts')};
const build = ${JSON.stringify(path.join(root, 'plugins-sdk', 'examples', 'build'))};
const trust = new TrustStore();
trust.add(readFileSync(path.join(build, 'keys', 'publisher.pub'), 'utf8'));
const pool = new PluginPool({ workers: 1, intraOpThreads: 1 });
const reg = new PluginRegistry(mkdtempSync(path.join(os.tmpdir(), 'reg-')), trust, pool);
const r = await reg.install(readFileSync(path.join(build, 'text_recognition-1.0.0.rpk')));
const call = await pool.call(reg.get(2101), { input: new ArrayBuffer(3 * 640 * 640 * 4), ptsMs: 1, args: {} });
console.log(JSON.stringify({ status: r.status, provider: call.providers[0]?.provider }));
await pool.close();
`);
  const r = runIsolated(path.join(dir, 'run'), ['--import', 'tsx', script]);
  t.equal(r.status, 0, r.out.slice(-2000));
  t.match(r.stdout, /"status":"valid","provider":"cpu"/, 'the model ran in the worker');
  t.strictSame(r.home, [], 'nothing written under HOME');
  t.strictSame(r.tmp.filter((f) => !f.startsWith('reg-')), [], 'nothing but the registry in the temp directory');
});
