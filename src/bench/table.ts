/** The report as plain-text tables for a terminal. */
import type { BenchReport } from './report.ts';
import { STAGES } from './plugin-scaling.ts';

function table(head: string[], rows: Array<Array<string | number>>): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  // A short row is blank in its missing columns; a cell past the head's columns gets no padding.
  const w = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i] ?? 0) : c.padStart(w[i] ?? 0))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** Decode capacity, then per plugin: scaling, latency split of the best step, utilisation. */
export function formatTable(r: BenchReport): string {
  const m = r.meta;
  const out: string[] = [];
  out.push(`retinad bench ${m.version} · ${m.host} · ${m.cpu} × ${m.cores} · load ${m.loadavg.map((x) => x.toFixed(2)).join(' ')}${m.quick ? ' · quick' : ''}`);
  out.push(`accelerator: ${m.accelerator ? `${m.accelerator.chip}${m.accelerator.peaksTflops ? ` (datasheet fp32 ${m.accelerator.peaksTflops.fp32} / fp16 ${m.accelerator.peaksTflops.fp16} TFLOPS, int8 ${m.accelerator.peaksTflops.int8} TOPS)` : ' (no datasheet peak known)'}` : 'none found'} · CPU peak measured ${m.cpuPeakGflops} GFLOP/s (float32 MatMul)`);
  out.push('', 'Decode capacity (1080p25 streams sustained, all cores)');
  out.push(r.decode.length ? table(['codec', 'decoder', 'ran on', '1080p fps', 'streams 1080p25'], r.decode.map((d) => [d.codec, d.hwaccel === 'none' ? 'software' : d.hwaccel, d.backend, d.fps1080p, d.streams1080p25]))
    : '(no decoder measured: the native addon is not built with FFmpeg)');
  if (m.videoPerfCache) out.push(`written to ${m.videoPerfCache}: the executor reports it as VideoProcessResource`);
  for (const p of r.plugins) {
    out.push('', `Plugin ${p.AlgType} ${p.AlgVersion} (AlgID ${p.AlgID}): fps vs streams`);
    out.push(table(['streams', 'workers×threads', 'frames', 'fps', 'crops/frame', 'failed', 'total p50', 'p90', 'p99 ms'],
      p.steps.map((s) => [s.streams, `${s.workers}×${s.threadsPerWorker}`, s.frames, s.fps, s.cropsPerFrame, s.failures, s.latencyMs.total.p50, s.latencyMs.total.p90, s.latencyMs.total.p99])));
    const best = p.steps.find((s) => s.streams === p.best.streams)!;
    out.push('', `Latency split at ${best.streams} stream${best.streams > 1 ? 's' : ''} (ms)`);
    out.push(table(['stage', 'p50', 'p90', 'p99'], STAGES.map((st) => [st, best.latencyMs[st].p50, best.latencyMs[st].p90, best.latencyMs[st].p99])));
    out.push('', `Utilisation: ${p.gflopsPerFrame.toFixed(2)} GFLOP/frame × ${p.best.fps} fps = ${p.achievedGflops} GFLOP/s of ${p.peak.gflops} GFLOP/s ${p.peak.source} peak on ${p.peak.device}: ${p.utilisationPct} %`
      + (p.uncountedOps.length ? ` (not counted: ${p.uncountedOps.join(', ')})` : ''));
  }
  if (!r.plugins.length) out.push('', 'No plugin measured: give --plugin FILE.rpk, or --data-dir of an executor with installed plugins.');
  return out.join('\n') + '\n';
}
