/**
 * Video-processing capacity in the standard's unit (1080p@1fps, tables 4 and 7), measured by a
 * short self-benchmark at first start: decode a generated 1080p clip per codec with all cores,
 * divide by its frame count. The result is cached in the data directory per machine and build.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ffmpegPath } from './ffmpeg-binary.ts';
import { openFrameSource } from './media/frame-source.ts';
import { loadNative, nativeDecoding } from './media/native.ts';
import type { Logger } from '../log.ts';

export interface CodecPerf {
  /** Table 4 FormatName. */
  FormatName: string;
  /** 1080p frames per second decoded (= MaxPerf in 1080P@1FPS units). */
  decode1080pFps: number;
  /** Where: software, cuda, vaapi. */
  backend: string;
  maxResolution: string;
}

interface CacheFile { key: string; measuredAt: string; codecs: CodecPerf[] }

const CLIPS: Array<{ FormatName: string; codec: string[]; decoder: string }> = [
  { FormatName: 'H.264', codec: ['-c:v', 'libx264', '-preset', 'veryfast'], decoder: 'h264' },
  { FormatName: 'H.265', codec: ['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error'], decoder: 'hevc' },
];

/** Cache key: a new CPU, core count or FFmpeg build means a new measurement. */
function cacheKey(): string {
  const ff = nativeDecoding()?.buildInfo().ffmpeg?.avcodec ?? 'pipe';
  return `${os.cpus()[0]?.model ?? '?'}|${os.cpus().length}|${ff}`;
}

/** Where the executor keeps its measurement. */
export const videoPerfFile = (dataDir: string) => path.join(dataDir, 'video-perf.json');

/** Stores a measurement as the executor's cache: its next start reports it without re-measuring. */
export function writeVideoPerfCache(dataDir: string, codecs: CodecPerf[]): void {
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(videoPerfFile(dataDir), JSON.stringify({ key: cacheKey(), measuredAt: new Date().toISOString(), codecs } satisfies CacheFile, null, 2));
}

/** Decoders the hardware probe reports on this machine (besides software). */
export function hardwareDecoders(): Array<'cuda' | 'vaapi'> {
  const p = nativeDecoding() ? loadNative().addon?.probe() : undefined;
  const out: Array<'cuda' | 'vaapi'> = [];
  if (p?.cuda.available && p.cuda.nvdec?.available !== false) out.push('cuda');
  if (p?.vaapi.libva && p.vaapi.renderNodes.length) out.push('vaapi');
  return out;
}

/**
 * Decodes a generated 1080p25 clip per codec (all cores) on `hwaccel` and returns 1080p frames
 * per second; clips are made in `tmpDir` with the bundled ffmpeg.
 */
export async function measureVideoPerf(tmpDir: string, o: { seconds?: number; hwaccel?: 'auto' | 'none' | 'cuda' | 'vaapi'; log?: Logger } = {}): Promise<CodecPerf[]> {
  mkdirSync(tmpDir, { recursive: true });
  const decoders = nativeDecoding()?.codecs?.().decoders ?? ['h264', 'hevc'];
  const out: CodecPerf[] = [];
  for (const c of CLIPS) {
    if (!decoders.includes(c.decoder)) continue;
    const seconds = o.seconds ?? 2;
    const clip = path.join(tmpDir, `${c.decoder}-${seconds}s.mkv`);
    if (!existsSync(clip)) {
      // A bare test pattern compresses to almost nothing and decodes far faster than a camera's
      // stream: sensor-like noise at a camera's usual 4 Mbit/s gives the decoder real work.
      const r = spawnSync(ffmpegPath(), ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=25', '-t', String(seconds),
        '-vf', 'noise=alls=10:allf=t', ...c.codec, '-b:v', '4M', '-maxrate', '4M', '-bufsize', '8M', clip]);
      if (r.status !== 0) continue;
    }
    try {
      const t0 = performance.now();
      const src = openFrameSource({ url: clip, fps: 0, queue: 16, ...(o.hwaccel ? { hwaccel: o.hwaccel } : {}) });
      let frames = 0;
      for (;;) {
        const f = await src.next();
        if (!f) break;
        f.release();
        frames++;
      }
      const st = src.stats();
      src.close();
      const fps = (frames * 1000) / (performance.now() - t0);
      out.push({ FormatName: c.FormatName, decode1080pFps: Math.round(fps * 10) / 10, backend: st.decode, maxResolution: st.decode === 'software' ? '8192*4320' : '4096*4096' });
    } catch (err) {
      o.log?.warn({ err: (err as Error).message, codec: c.FormatName, hwaccel: o.hwaccel }, 'video self-benchmark failed');
    }
  }
  return out;
}

/** Measured capacity, from cache (also one `retinad bench --data-dir` wrote) or by running the benchmark now (≈ 2–4 s of CPU, once). */
export async function videoPerf(dataDir: string, log?: Logger): Promise<CodecPerf[]> {
  const file = videoPerfFile(dataDir);
  const key = cacheKey();
  if (existsSync(file)) {
    try {
      const c = JSON.parse(readFileSync(file, 'utf8')) as CacheFile;
      if (c.key === key) return c.codecs;
    } catch { /* re-measure */ }
  }
  if (process.env.RETINAD_SKIP_SELF_BENCH === '1') return [];
  const out = await measureVideoPerf(path.join(dataDir, 'selfbench'), { log });
  writeVideoPerfCache(dataDir, out);
  log?.info({ codecs: out }, 'video decode capacity measured (1080p@1fps units)');
  return out;
}
