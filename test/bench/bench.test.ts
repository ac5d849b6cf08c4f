/**
 * `retinad bench --quick` from the checkout: decode capacity, a plugin's fps/latency split at 1
 * and 2 streams, utilisation; the table, --json, bench.json + bench.html (inline SVG, nothing
 * fetched), and the decode capacity left in --data-dir where the executor's next start finds it.
 * (test/package.test.ts runs the same from the installed package.)
 */
import t from 'tap';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { retinad } from '../helpers/entry.ts';
import { buildExamples, example } from '../helpers/examples.ts';
import { videoPerf } from '../../src/runtime/video-perf.ts';
import type { BenchReport } from '../../src/bench/report.ts';
import { defined } from '../helpers/defined.ts';

const root = path.resolve(import.meta.dirname, '..', '..');
const keys = path.join(root, 'plugins-sdk', 'examples', 'build', 'keys');
const bench = (args: string[]) => spawnSync(process.execPath, [...retinad, 'bench', '--quick', ...args], { encoding: 'utf8', timeout: 240_000 });

t.test('retinad bench --quick --json --out --data-dir with a plugin package', async (t) => {
  t.equal(buildExamples(), 0, 'example plugins built');
  const dir = t.testdir({});
  const data = path.join(dir, 'data');
  const out = path.join(dir, 'out');
  const r = bench(['--json', '--plugin', example('motion_detection-1.0.0'), '--trusted-keys', keys, '--out', out, '--data-dir', data]);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stderr, '', 'no progress line when stderr is not a terminal');
  const j = JSON.parse(r.stdout) as BenchReport;
  t.ok(j.decode.length >= 1, 'decode capacity measured');
  for (const d of j.decode) {
    t.ok(d.fps1080p > 0, `${d.codec} on ${d.backend}: ${d.fps1080p} fps`);
    t.equal(d.streams1080p25, Math.floor((d.fps1080p / 25) * 10) / 10, 'streams of 1080p25 = fps / 25');
  }
  const p = defined(j.plugins[0], 'a measured plugin');
  t.equal(p.AlgID, 2006);
  t.same(p.steps.map((s) => s.streams).slice(0, 1), [1], 'starts at one stream');
  t.ok(p.steps.length >= 1 && p.steps.length <= 2, 'quick: at most 1 and 2 streams');
  for (const s of p.steps) {
    t.ok(s.fps > 0 && s.frames > 0, `${s.streams} stream(s): ${s.fps} fps`);
    for (const st of ['decode', 'preprocess', 'queue', 'inference', 'post', 'total'] as const) {
      const l = s.latencyMs[st];
      t.ok(l.p50 <= l.p90 && l.p90 <= l.p99, `${st}: p50 ≤ p90 ≤ p99`);
    }
  }
  t.ok(j.meta.cpuPeakGflops > 0, 'CPU peak measured');
  t.equal(p.peak.source, 'measured', 'a CPU plugin is judged against the measured CPU peak');

  t.same(JSON.parse(readFileSync(path.join(out, 'bench.json'), 'utf8')), j, 'bench.json = --json');
  const html = readFileSync(path.join(out, 'bench.html'), 'utf8');
  t.match(html, /<svg[^>]+aria-label="fps vs streams"/, 'fps chart inline');
  t.match(html, /<svg[^>]+aria-label="latency split p50"/, 'latency split chart inline');
  t.notMatch(html, /<script|<link|src="http|href="http/, 'self-contained: no script, no fetched resource');

  t.ok(existsSync(path.join(data, 'video-perf.json')), 'decode capacity written to the data dir');
  const cached = await videoPerf(data);
  t.equal(cached.length, new Set(j.decode.map((d) => d.codec)).size, 'one cached entry per codec');
  for (const c of cached) {
    const best = Math.max(...j.decode.filter((d) => d.codec === c.FormatName).map((d) => d.fps1080p));
    t.equal(c.decode1080pFps, best, `the executor reads ${c.FormatName}'s best measured capacity from the cache`);
  }
});

t.test('retinad bench --quick without a plugin prints the decode table and says how to add one', async (t) => {
  const r = bench([]);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^Decode capacity \(1080p25 streams sustained/m);
  t.match(r.stdout, /^H\.264 +software/m);
  t.match(r.stdout, /No plugin measured: give --plugin FILE\.rpk/);
});

t.test('retinad bench --data-dir measures the plugins installed there', async (t) => {
  t.equal(buildExamples(), 0);
  const data = path.join(t.testdir({}), 'data');
  const inst = spawnSync(process.execPath, [...retinad, 'plugin', 'install', example('motion_detection-1.0.0'), '--data-dir', data, '--trusted-keys', keys], { encoding: 'utf8', timeout: 60_000 });
  t.equal(inst.status, 0, inst.stderr);
  const r = bench(['--json', '--data-dir', data, '--trusted-keys', keys]);
  t.equal(r.status, 0, r.stderr);
  t.same((JSON.parse(r.stdout) as BenchReport).plugins.map((p) => p.AlgID), [2006]);
});

t.test('the progress line appears on a terminal', { skip: spawnSync('sh', ['-c', 'command -v script']).status === 0 ? false : 'needs script(1) for a pseudo-terminal' }, async (t) => {
  // script(1) gives the child a pseudo-terminal: stderr is a TTY there, as for an operator.
  const cmd = [process.execPath, ...retinad, 'bench', '--quick'].map((a) => `'${a}'`).join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 120_000 });
  t.equal(r.status, 0, r.stdout);
  t.match(r.stdout, /\r\x1b\[2Kretinad bench \[ *\d+ s\] decode software/, 'progress line, rewritten in place');
  t.match(r.stdout, /^Decode capacity/m, 'then the table');
});
