/**
 * Part (a): decode capacity per codec and decoder — the executor's own self-benchmark
 * (runtime/video-perf.ts) run on software and on each hardware decoder the probe reports,
 * expressed as 1080p25 streams sustained.
 */
import { hardwareDecoders, measureVideoPerf, type CodecPerf } from '../runtime/video-perf.ts';

export interface DecodeRow {
  codec: string;
  /** Asked for: none (software), cuda, vaapi. */
  hwaccel: string;
  /** Where it really ran (a hardware decoder may fall back to software). */
  backend: string;
  fps1080p: number;
  streams1080p25: number;
}

/** Measures every decoder here; `seconds` of clip per codec. */
export async function decodeCapacity(tmpDir: string, seconds: number, progress: (what: string) => void): Promise<{ rows: DecodeRow[]; best: CodecPerf[] }> {
  const rows: DecodeRow[] = [];
  const best = new Map<string, CodecPerf>();
  for (const hw of ['none', ...hardwareDecoders()] as const) {
    progress(`decode ${hw === 'none' ? 'software' : hw}`);
    for (const c of await measureVideoPerf(tmpDir, { seconds, hwaccel: hw })) {
      rows.push({ codec: c.FormatName, hwaccel: hw, backend: c.backend, fps1080p: c.decode1080pFps, streams1080p25: Math.floor((c.decode1080pFps / 25) * 10) / 10 });
      // The executor reports the best decoder per codec, as its own self-bench (hwaccel auto) would.
      if ((best.get(c.FormatName)?.decode1080pFps ?? -1) < c.decode1080pFps) best.set(c.FormatName, c);
    }
  }
  return { rows, best: [...best.values()] };
}
