/** The result of one `retinad bench` run: what --json prints and bench.json holds. */
import type { DecodeRow } from './decode-capacity.ts';
import type { ScalingStep } from './plugin-scaling.ts';
import type { Peak } from './utilisation.ts';

export interface PluginReport {
  AlgID: number;
  AlgType: string;
  AlgVersion: string;
  steps: ScalingStep[];
  /** The step with the highest fps. */
  best: { streams: number; fps: number };
  gflopsPerFrame: number;
  achievedGflops: number;
  utilisationPct: number;
  peak: Peak;
  uncountedOps: string[];
}

export interface BenchReport {
  meta: {
    date: string; host: string; cpu: string; cores: number; loadavg: number[]; quick: boolean; node: string; version: string;
    accelerator: { chip: string; peaksTflops: { fp32: number; fp16: number; int8: number } | null } | null;
    cpuPeakGflops: number; videoPerfCache: string | null;
  };
  decode: DecodeRow[];
  plugins: PluginReport[];
}
