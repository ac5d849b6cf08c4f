/**
 * `retinad bench`: what this box can do, measured on the box — decode capacity per codec and
 * decoder, a plugin's fps and latency split as streams are added, and utilisation against the
 * device's peak. Works from the installed package (clips are generated with the bundled ffmpeg).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PluginPool } from '../plugins/pool.ts';
import { PluginRegistry, type LoadedPlugin } from '../plugins/registry.ts';
import { TrustStore } from '../plugins/keys.ts';
import { measurePeakGflops } from '../plugins/peak.ts';
import { accelerators, hostAccelerators } from '../runtime/accelerators.ts';
import { videoPerfFile, writeVideoPerfCache } from '../runtime/video-perf.ts';
import { benchClip } from './clip.ts';
import { decodeCapacity } from './decode-capacity.ts';
import { scaling } from './plugin-scaling.ts';
import { gflopsPerFrame, type Peak } from './utilisation.ts';
import { formatTable } from './table.ts';
import { formatHtml } from './html.ts';
import { Progress } from './progress.ts';
import type { BenchReport, PluginReport } from './report.ts';

export interface BenchOptions {
  /** A plugin package to measure; without it, the plugins installed in dataDir. */
  plugin?: string;
  quick: boolean;
  json: boolean;
  /** Writes bench.json and bench.html here. */
  out?: string;
  /** An executor's data dir: its installed plugins are measured, and its decode cache is written. */
  dataDir?: string;
  trustedKeys?: string;
  devMode: boolean;
}

// package.json sits two levels above this file both in src/bench/ and dist/bench/.
const version = () => (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The plugins to measure, and a function that releases what loading them needed. */
async function loadPlugins(o: BenchOptions, tmp: string): Promise<LoadedPlugin[]> {
  const trust = TrustStore.fromDir(o.trustedKeys ?? (o.dataDir ? path.join(o.dataDir, 'trusted-keys') : undefined));
  if (o.plugin) {
    // Installed into a scratch registry: the trial run needs a pool, a small one is enough.
    const pool = new PluginPool({ workers: 1, accelerators: hostAccelerators() });
    try {
      const reg = new PluginRegistry(path.join(tmp, 'registry'), trust, pool, { devMode: o.devMode });
      const r = await reg.install(readFileSync(o.plugin));
      if (r.status !== 'valid') throw new Error(`--plugin: ${o.plugin} did not install: ${r.error ?? 'invalid'}`);
      return [reg.get(r.AlgID, r.AlgVersion)!];
    } finally {
      await pool.close();
    }
  }
  if (!o.dataDir) return [];
  const reg = new PluginRegistry(o.dataDir, trust, null, { devMode: o.devMode });
  return reg.entries().filter((e) => e.status === 'valid').map((e) => reg.get(e.AlgID, e.AlgVersion)).filter((p): p is LoadedPlugin => !!p);
}

/** Runs the benchmark and prints it; returns the exit code. */
export async function runBench(o: BenchOptions): Promise<number> {
  const progress = new Progress();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'retinad-bench-'));
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  try {
    const plugins = await loadPlugins(o, tmp);
    const decode = await decodeCapacity(tmp, o.quick ? 1 : 4, (w) => progress.step(w));
    let cache: string | null = null;
    if (o.dataDir && decode.best.length) {
      writeVideoPerfCache(o.dataDir, decode.best);
      cache = videoPerfFile(o.dataDir);
    }
    progress.step('CPU peak (float32 MatMul)');
    const cpuPeak = Math.round(await measurePeakGflops(cores, o.quick ? 512 : 1024, o.quick ? 3 : 6));
    const acc = accelerators();
    const reports: PluginReport[] = [];
    const clip = plugins.length ? benchClip(tmp, o.quick ? 2 : 8) : '';
    for (const p of plugins) {
      const steps = await scaling(p, clip, { framesPerStep: o.quick ? 4 : 32, minPerStream: o.quick ? 2 : 4, maxStreams: o.quick ? 2 : 16, sampleFps: 5, progress: (w) => progress.step(w) });
      const best = steps.reduce((a, b) => (b.fps > a.fps ? b : a));
      const g = gflopsPerFrame(p, best.cropsPerFrame);
      // Inference on an accelerator is judged against its datasheet; on CPU against what was measured here.
      const onGpu = best.providers.some((x) => /cuda|tensorrt/i.test(x));
      const peak: Peak = onGpu && acc.peaks && acc.chip ? { device: acc.chip, gflops: acc.peaks.fp32 * 1000, source: 'datasheet' } : { device: `CPU × ${cores}`, gflops: cpuPeak, source: 'measured' };
      const achieved = g.gflops * best.fps;
      reports.push({
        AlgID: p.manifest.AlgID, AlgType: p.manifest.AlgType, AlgVersion: p.manifest.AlgVersion, steps, best: { streams: best.streams, fps: best.fps },
        gflopsPerFrame: Math.round(g.gflops * 1000) / 1000, achievedGflops: Math.round(achieved * 10) / 10,
        utilisationPct: peak.gflops > 0 ? Math.round((1000 * achieved) / peak.gflops) / 10 : 0, peak, uncountedOps: g.uncounted,
      });
    }
    progress.done();
    const report: BenchReport = {
      meta: {
        date: new Date().toISOString(), host: os.hostname(), cpu: os.cpus()[0]?.model ?? 'unknown', cores, loadavg: os.loadavg(), quick: o.quick, node: process.version, version: version(),
        accelerator: acc.chip ? { chip: acc.chip, peaksTflops: acc.peaks } : null, cpuPeakGflops: cpuPeak, videoPerfCache: cache,
      },
      decode: decode.rows,
      plugins: reports,
    };
    if (o.out) {
      mkdirSync(o.out, { recursive: true });
      writeFileSync(path.join(o.out, 'bench.json'), JSON.stringify(report, null, 2) + '\n');
      writeFileSync(path.join(o.out, 'bench.html'), formatHtml(report));
    }
    process.stdout.write(o.json ? JSON.stringify(report, null, 2) + '\n' : formatTable(report));
    return 0;
  } finally {
    progress.done();
    rmSync(tmp, { recursive: true, force: true });
  }
}
