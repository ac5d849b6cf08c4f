#!/usr/bin/env node
// `npm test`: runs the tap suite on both decode paths and ends with the one line CI reads,
// `N passed, N failed[, N skipped]`, as the very last line of output.
//
// What is counted: tests, not files and not assertions. One test is a leaf subtest (a
// `t.test(...)`, or a whole file, with no subtests of its own); a skipped or todo subtest is one
// skipped test with its reason ("skipped" includes todos). A file that crashes, a subtest cut
// off, a bail-out, or tap exiting non-zero with nothing counted failed all make `failed` ≥ 1
// and the exit code non-zero. scripts/tap-count.mjs parses tap's TAP stream and has the rules.
//
// Before the tap passes, on a full run (no files named): the static checks, `tsc --noEmit -p .`
// and `eslint .` (eslint.config.js; docs/CONTRIBUTING.md says why each rule), each counted as one
// test, passed or failed, with its output shown when it fails.
//
// The passes:
//   1. the whole suite (or the files given) on the installed addon, native/build;
//   2. only when that addon was built with FFmpeg (so pass 1 ran the in-process decoder): build
//      a second addon without FFmpeg into native/build-lite and run SECOND_PASS_TESTS (less
//      SECOND_PASS_SKIP, the tests no decoder can change) again with
//      RETINAD_NATIVE_PATH pointing at it and RETINAD_DECODER=pipe, so the code paths a
//      machine without the FFmpeg dev libraries takes are proven too. When the installed addon
//      has no FFmpeg, pass 1 already ran on the pipe backend and pass 2 is not needed.
// The closing line sums both passes; failures and skips are listed with the pass they came from.
//
//   npm test                              both passes
//   npm test -- test/x.test.ts …          those files, first pass only
//   npm test -- --both-backends test/x…   those files in both passes
//   RETINAD_TEST_SECOND_PASS=0 npm test   first pass only
//   RETINAD_TEST_STATIC=0 npm test        without the static checks
// Other arguments go to tap as they are.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { TapCounter, closingLine } from './tap-count.mjs';

/** What the second pass runs: everything that decodes, preprocesses or runs plugins… */
const SECOND_PASS_TESTS = ['test/plugins', 'test/integration', 'test/runtime/media'];
/**
 * …but these integration tests, whose outcome cannot depend on the decoder: the learning ones
 * read RDS1 sample sets and decode no video at all; the scheduler-state ones only keep a
 * frame_extraction task running while the scheduler is replicated, backed up, restarted or
 * placing, and the executor code that task runs is the same one the other integration tests
 * prove on both backends. A new test runs in both passes unless it is named here, with why.
 */
const SECOND_PASS_SKIP = new Map([
  ...['cloud', 'coevolution', 'compress', 'federated', 'gradients', 'incremental', 'pushdown', 'reward', 'samples']
    .map((n) => [`test/integration/learning-${n}.test.ts`, 'learning on RDS1 sample sets, no video']),
  ['test/integration/learning-tiers.test.ts', 'learning on RDS1 sample sets; its one video task only carries the model push'],
  ...['scheduler-replicas', 'scheduler-backup-etcd', 'scheduler-backup', 'scheduler-restart', 'placement-strategies']
    .map((n) => [`test/integration/${n}.test.ts`, 'scheduler state; the running task is decoder-neutral']),
  ...['cascade', 'cascade-bottom-up', 'cascade-bottom-up-partial', 'cascade-stages', 'dag-window', 'event-triggers', 'failure-policies', 'frozen-executor', 'orchestration', 'repository-transfer']
    .map((n) => [`test/integration/${n}.test.ts`, 'orchestration across processes; its frames only carry it (plugins on the pipe: test/plugins)']),
]);
const LITE_OUT = 'native/build-lite';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tapBin = path.join(root, 'node_modules', 'tap', 'dist', 'esm', 'run.mjs');
const defaultAddon = process.env.RETINAD_NATIVE_PATH ?? path.join(root, 'native', 'build', 'Release', 'retinad_native.node');
const liteAddon = path.join(root, LITE_OUT, 'Release', 'retinad_native.node');

const argv = process.argv.slice(2);
const bothBackends = argv.includes('--both-backends');
const tapArgs = argv.filter((a) => a !== '--both-backends');
// A positional that names a test file or folder; option values (`--grep x`) are not paths.
const explicit = tapArgs.some((a) => !a.startsWith('-') && (/\.[cm]?[jt]sx?$/.test(a) || existsSync(a)));
const options = tapArgs.filter((a) => !(!a.startsWith('-') && (/\.[cm]?[jt]sx?$/.test(a) || existsSync(a))));

/** Runs tap with the TAP reporter, echoing the stream and counting it as it comes. */
function runTap(args, env) {
  return new Promise((resolve) => {
    const counter = new TapCounter();
    const child = spawn(process.execPath, [tapBin, '--reporter=tap', ...args], {
      cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => { process.stdout.write(chunk); counter.write(chunk); });
    child.on('close', (code, signal) => {
      const count = counter.end();
      // tap failing with nothing counted (it crashed, a config error) is still a failure.
      if ((code !== 0 || signal) && count.failed === 0) {
        count.failures.push({ name: '(tap)', reason: `exited with ${signal ?? `code ${code}`} without a counted failure` });
        count.failed = count.failures.length;
      }
      resolve(count);
    });
  });
}

/** Whether an addon file loads and was built with FFmpeg; asked in a child so a bad build cannot take this process down. */
function addonInfo(file) {
  const r = spawnSync(process.execPath, ['-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(file)}).buildInfo().ffmpeg))`], { encoding: 'utf8' });
  if (r.status !== 0) return { loaded: false, ffmpeg: null, error: (r.stderr.split('\n').find((l) => /Error/.test(l)) ?? 'does not load').trim() };
  return { loaded: true, ffmpeg: JSON.parse(r.stdout || 'null') };
}

/** Every *.test.ts under the given folders, sorted (tap's own folder expansion skips .ts here). */
function testFiles(entries) {
  return entries.flatMap((e) => {
    const abs = path.join(root, e);
    if (!existsSync(abs)) return [];
    if (statSync(abs).isDirectory()) {
      return readdirSync(abs, { recursive: true }).map(String).filter((f) => f.endsWith('.test.ts')).map((f) => path.posix.join(e, f.split(path.sep).join('/')));
    }
    return [e];
  }).sort();
}

/** Runs a command without blocking this process; resolves with its exit code, output and seconds. */
function collect(cmd, args) {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    child.on('error', (err) => resolve({ code: -1, output: err.message, seconds: 0 }));
    child.on('close', (code) => resolve({ code, output, seconds: ((Date.now() - started) / 1000).toFixed(0) }));
  });
}

/** retinad-plugin from source (the compiled one may be building at the same time). */
function pluginCli() {
  return ['--import', 'tsx', path.join(root, 'src', 'plugin-cli.ts')];
}

/** Fixture plugin folders whose build/plugin.wasm is missing or older than its sources (the rule of test/helpers/plugins.ts). */
function staleFixtures() {
  const base = path.join(root, 'test', 'fixtures', 'plugins');
  if (!existsSync(base)) return [];
  return readdirSync(base).map((n) => path.join(base, n)).filter((dir) => {
    const src = path.join(dir, 'assembly', 'index.ts');
    const manifest = path.join(dir, 'plugin.json');
    if (!existsSync(src) || !existsSync(manifest)) return false;
    const wasm = path.join(dir, 'build', 'plugin.wasm');
    return !existsSync(wasm) || statSync(wasm).mtimeMs < Math.max(statSync(src).mtimeMs, statSync(manifest).mtimeMs);
  });
}

/** tsc and eslint over the whole tree: one test each in the count; a failure's output is shown. */
function runStaticChecks() {
  const checks = [
    { name: 'typecheck: tsc --noEmit -p .', args: [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', '.'] },
    { name: 'lint: eslint .', args: [path.join(root, 'node_modules', 'eslint', 'bin', 'eslint.js'), '.'] },
  ];
  const count = { passed: 0, failed: 0, skipped: 0, failures: [], skips: [] };
  for (const c of checks) {
    const started = Date.now();
    const r = spawnSync(process.execPath, c.args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const took = `${((Date.now() - started) / 1000).toFixed(0)} s`;
    if (r.status === 0) {
      count.passed++;
      console.log(`# static check passed: ${c.name} (${took})`);
      continue;
    }
    process.stdout.write(`${r.stdout ?? ''}${r.stderr ?? ''}`);
    const why = r.error ? r.error.message : `exited with ${r.signal ?? `code ${r.status}`}; its output is above`;
    console.log(`# static check failed: ${c.name} (${took}): ${why}`);
    count.failures.push({ name: c.name, reason: why });
    count.failed++;
  }
  return count;
}

/** Builds the FFmpeg-less addon with scripts/build-native.mjs; its log is shown only if it fails. */
function buildLite() {
  const env = { ...process.env, RETINAD_WITH_FFMPEG: '0' };
  delete env.RETINAD_SKIP_NATIVE;
  const started = Date.now();
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-native.mjs'), '--force', '--out', LITE_OUT], { cwd: root, env, encoding: 'utf8' });
  if (r.status !== 0) {
    process.stdout.write(r.stdout + r.stderr);
    return `building it failed (exit ${r.status ?? r.signal})`;
  }
  const info = addonInfo(liteAddon);
  if (!info.loaded) return `the build does not load: ${info.error}`;
  if (info.ffmpeg) return 'the build still has FFmpeg in it';
  console.log(`# built ${LITE_OUT} without FFmpeg in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return null;
}

// Every reply a route sends in any test is checked against the schema the route declares.
process.env.RETINAD_CHECK_REPLIES = '1';

const passes = [];
const first = addonInfo(defaultAddon);
const firstLabel = first.ffmpeg
  ? `addon with FFmpeg (libavcodec ${first.ffmpeg.avcodec}), native decoder`
  : first.loaded ? 'addon without FFmpeg, ffmpeg-pipe backend' : `no addon (${first.error}), ffmpeg-pipe backend`;
// Started before the static checks, which leave the second core idle; awaited after them.
// The CLI the tests start as child processes (test/helpers/entry.ts, src/child-role.ts): compiled
// from this source now, into .test-dist/, so each child starts on plain Node instead of loading
// tsx (0.6 s of CPU each, hundreds of times). Built beside dist/, which test/package.test.ts
// rebuilds when it packs the checkout. If it cannot be built, the children run from source.
const childCli = process.env.RETINAD_CHILD_CLI ? null : collect(process.execPath, [path.join(root, 'scripts', 'build-dist.mjs'), '--out', '.test-dist']);
// The test-fixture plugins a fresh checkout has not compiled yet (test/helpers/plugins.ts would
// compile each on first use, one at a time, inside a test): compiled now, in parallel.
const fixtureBuilds = Promise.all(staleFixtures().map((dir) => collect(process.execPath, [...pluginCli(), 'build', '--dir', dir]).then((r) => ({ dir, ...r }))));
if (process.env.RETINAD_TEST_STATIC === '0') {
  console.log('# static checks: off (RETINAD_TEST_STATIC=0)');
} else if (explicit) {
  console.log('# static checks: not run for files given by name (npm run typecheck, npm run lint)');
} else {
  passes.push({ name: 'static checks', count: runStaticChecks() });
}

if (childCli) {
  const r = await childCli;
  if (r.code === 0) {
    process.env.RETINAD_CHILD_CLI = path.join(root, '.test-dist', 'cli.js');
    console.log(`# child processes run .test-dist/cli.js, compiled from src/ in ${r.seconds} s`);
  } else {
    process.stdout.write(r.output);
    console.log('# child processes run src/cli.ts through tsx: .test-dist/ could not be built (its output is above)');
  }
}
const fixtures = await fixtureBuilds;
for (const f of fixtures.filter((x) => x.code !== 0)) process.stdout.write(`# fixture ${path.relative(root, f.dir)} did not build (its test will say so):\n${f.output}`);
if (fixtures.length) console.log(`# compiled ${fixtures.length} test-fixture plugin${fixtures.length === 1 ? '' : 's'}`);

console.log(`# first pass: ${firstLabel}${process.env.RETINAD_DECODER ? ` (RETINAD_DECODER=${process.env.RETINAD_DECODER})` : ''}`);
passes.push({ name: 'first pass', count: await runTap(tapArgs, process.env) });

const secondName = 'second pass: addon without FFmpeg, ffmpeg-pipe backend';
if (process.env.RETINAD_TEST_SECOND_PASS === '0') {
  console.log('# second pass: off (RETINAD_TEST_SECOND_PASS=0)');
} else if (explicit && !bothBackends) {
  console.log('# second pass: not run for files given by name (add --both-backends to run them on both)');
} else if (!first.ffmpeg) {
  console.log('# second pass: not needed, the installed addon has no FFmpeg so the first pass already ran on the ffmpeg-pipe backend');
} else {
  console.log(`# ${secondName}: building ${LITE_OUT}`);
  const failure = buildLite();
  if (failure) {
    console.log(`# ${secondName}: ${failure}`);
    passes.push({ name: 'second pass', count: { passed: 0, failed: 1, skipped: 0, failures: [{ name: `(${LITE_OUT})`, reason: failure }], skips: [] } });
  } else {
    // A name in the skip list that no longer exists is a list gone stale: said, and counted failed.
    const stale = [...SECOND_PASS_SKIP.keys()].filter((f) => !existsSync(path.join(root, f)));
    const staleWhy = (f) => `${f} does not exist: remove it from SECOND_PASS_SKIP in scripts/test.mjs, or name the file it became`;
    for (const f of stale) console.log(`# ${secondName}: ${staleWhy(f)}`);
    if (stale.length) passes.push({ name: 'second pass', count: { passed: 0, failed: stale.length, skipped: 0, failures: stale.map((f) => ({ name: '(SECOND_PASS_SKIP)', reason: staleWhy(f) })), skips: [] } });
    if (!explicit) for (const [f, why] of SECOND_PASS_SKIP) console.log(`# ${secondName}: leaves out ${f} (${why})`);
    const files = explicit ? tapArgs : [...options, ...testFiles(SECOND_PASS_TESTS).filter((f) => !SECOND_PASS_SKIP.has(f))];
    console.log(`# ${secondName} (RETINAD_NATIVE_PATH=${liteAddon} RETINAD_DECODER=pipe): ${explicit ? 'the files given' : `${SECOND_PASS_TESTS.join(' ')}, but ${SECOND_PASS_SKIP.size} named in SECOND_PASS_SKIP`}`);
    const env = { ...process.env, RETINAD_NATIVE_PATH: liteAddon, RETINAD_DECODER: 'pipe' };
    passes.push({ name: 'second pass', count: await runTap(files, env) });
  }
}

// The report: per pass, then every failure and skip with its pass, then the closing line last.
const total = { passed: 0, failed: 0, skipped: 0 };
console.log('');
for (const { name, count } of passes) {
  console.log(`# ${name}: ${closingLine(count)}`);
  for (const k of Object.keys(total)) total[k] += count[k];
}
const byName = (a, b) => a.name.localeCompare(b.name, 'en');
for (const { name, count } of passes) {
  for (const f of [...count.failures].sort(byName)) console.log(`failed  [${name}] ${f.name}: ${f.reason}`);
}
for (const { name, count } of passes) {
  for (const s of [...count.skips].sort(byName)) {
    console.log(`${s.kind === 'todo' ? 'todo   ' : 'skipped'} [${name}] ${s.name}: ${s.reason || '(no reason given)'}`);
  }
}
console.log(closingLine(total));
process.exitCode = total.failed > 0 ? 1 : 0;
