/**
 * Transcoding into video slices (TaskType 3, VideoResult): the source is re-encoded to H.264 or
 * H.265 at a bitrate and size, cut into self-contained MP4 slices of a fixed length by ffmpeg's
 * segment muxer. Works for files and live streams alike: a slice is handed over as soon as
 * ffmpeg closes it. Runs on the ffmpeg binary (the in-process encoder is future work).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ffmpegPath } from '../ffmpeg-binary.ts';
import { proxyEnv } from '../frame-sampler.ts';
import { OptionError, protocolWhitelist } from './decoder-options.ts';
import { MediaError, openFrameSource, type FrameSource, type SourceFrame } from './frame-source.ts';
import { nativeDecoding, type NativeEncoder } from './native.ts';

export interface TranscodeOptions {
  url: string;
  codec: 'H.264' | 'H.265';
  bitrateKbps: number;
  width?: number;
  height?: number;
  sliceSeconds: number;
  startMs?: number;
  /** HTTP(S) requests through the executor's source proxy (the URL policy per hop). */
  httpProxy?: string;
}

export interface VideoSlice {
  index: number;
  data: Buffer;
  startMs: number;
  durationMs: number;
}

/** Reads TranscodeOptions from a task's AlgArgs; throws OptionError naming the AlgArgs member. */
export function transcodeOptionsFromArgs(url: string, args: Record<string, unknown>): TranscodeOptions {
  const codec = args.Codec ?? 'H.264';
  if (codec !== 'H.264' && codec !== 'H.265') throw new OptionError('AlgArgs.Codec', `must be "H.264" or "H.265" (got ${JSON.stringify(codec)})`);
  const int = (k: string, def: number | undefined, min: number, max: number) => {
    const v = args[k] ?? def;
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new OptionError(`AlgArgs.${k}`, `must be an integer ${min}..${max} (got ${JSON.stringify(v)})`);
    return v;
  };
  const width = int('Width', undefined, 16, 8192);
  const height = int('Height', undefined, 16, 8192);
  if ((width === undefined) !== (height === undefined)) throw new OptionError('AlgArgs.Width', 'Width and Height go together');
  if ((width ?? 0) % 2 || (height ?? 0) % 2) throw new OptionError('AlgArgs.Width', 'Width and Height must be even for 4:2:0 video');
  return {
    url, codec,
    bitrateKbps: int('BitrateKbps', 1000, 50, 200_000)!,
    width, height,
    sliceSeconds: int('SliceSeconds', 10, 1, 3600)!,
    startMs: int('StartOffsetMs', 0, 0, 1e12),
  };
}

/** Builds the ffmpeg command for `o` writing slices into `dir`. */
export function transcodeArgs(o: TranscodeOptions, dir: string): string[] {
  const src = o.url.startsWith('file://') ? decodeURIComponent(new URL(o.url).pathname) : o.url;
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error'];
  if (/^rtsps?:/i.test(src)) args.push('-rtsp_transport', 'tcp');
  else if (/^https?:/i.test(src)) args.push('-rw_timeout', '15000000');
  if (o.startMs) args.push('-ss', (o.startMs / 1000).toFixed(3));
  args.push('-protocol_whitelist', protocolWhitelist(o.url));
  if (o.httpProxy && /^https?:/i.test(src)) args.push('-http_proxy', o.httpProxy);
  args.push('-i', src, '-an', '-sn', '-dn');
  if (o.width && o.height) args.push('-vf', `scale=${o.width}:${o.height}`);
  const enc = o.codec === 'H.265' ? ['-c:v', 'libx265', '-x265-params', 'log-level=error', '-tag:v', 'hvc1'] : ['-c:v', 'libx264'];
  args.push(...enc, '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-b:v', `${o.bitrateKbps}k`, '-maxrate', `${Math.round(o.bitrateKbps * 1.5)}k`, '-bufsize', `${o.bitrateKbps * 2}k`,
    // A keyframe at every slice boundary, so each slice starts decodable.
    '-force_key_frames', `expr:gte(t,n_forced*${o.sliceSeconds})`,
    '-f', 'segment', '-segment_time', String(o.sliceSeconds), '-segment_format', 'mp4', '-segment_format_options', 'movflags=+faststart',
    '-reset_timestamps', '1', '-segment_list', path.join(dir, 'slices.csv'), '-segment_list_type', 'csv', path.join(dir, 'slice%06d.mp4'));
  return args;
}

/** What both transcoders offer. */
export interface SliceSource {
  readonly backend: 'native' | 'ffmpeg-pipe';
  next(): Promise<VideoSlice | null>;
  close(): void;
}

/** The in-process transcoder when the addon has FFmpeg and the encoder, else the ffmpeg binary. */
export function openTranscoder(o: TranscodeOptions, want: 'auto' | 'native' | 'pipe' = 'auto'): SliceSource {
  const enc = o.codec === 'H.265' ? 'libx265' : 'libx264';
  const addon = nativeDecoding();
  const native = !!addon?.Encoder && (addon.codecs?.().encoders ?? []).includes(enc);
  if (want === 'native' && !native) throw new MediaError('env', `in-process ${enc} encoding is not available in this build`);
  return native && want !== 'pipe' ? new NativeTranscoder(o) : new Transcoder(o);
}

/**
 * In-process transcoding: the native decoder hands every frame to a native encoder (libx264 or
 * libx265 in the system's libavcodec); each slice is its own MP4, starting with a keyframe.
 * JavaScript only moves frame handles; pixels stay in native memory.
 */
export class NativeTranscoder implements SliceSource {
  readonly backend = 'native' as const;
  private readonly dir = mkdtempSync(path.join(os.tmpdir(), 'retinad-slices-'));
  private readonly source: FrameSource;
  private pending: SourceFrame | null = null;
  private index = 0;
  private done = false;

  constructor(private readonly o: TranscodeOptions) {
    this.source = openFrameSource({ url: o.url, fps: 0, startMs: o.startMs, queue: 8, ...(o.httpProxy ? { httpProxy: o.httpProxy } : {}) }, 'native');
  }

  async next(): Promise<VideoSlice | null> {
    if (this.done) return null;
    let enc: NativeEncoder | null = null;
    let start = 0;
    let frames = 0;
    const file = path.join(this.dir, `slice${this.index}.mp4`);
    try {
      for (;;) {
        const f = this.pending ?? (await this.source.next());
        this.pending = null;
        if (!f) {
          this.done = true;
          break;
        }
        if (!enc) {
          start = f.ptsMs;
          const even = (n: number) => Math.max(2, n - (n % 2));
          const fps = Math.round(this.source.stats().sourceFps) || 25;
          const addon = nativeDecoding()!;
          enc = new addon.Encoder!({ file, codec: this.o.codec === 'H.265' ? 'libx265' : 'libx264', bitrateKbps: this.o.bitrateKbps,
            width: this.o.width ?? even(f.width), height: this.o.height ?? even(f.height), fps });
        }
        if (f.ptsMs - start >= this.o.sliceSeconds * 1000) {
          this.pending = f; // first frame of the next slice
          break;
        }
        try {
          await enc.write(f.native!, f.ptsMs - start);
          frames++;
        } finally {
          f.release();
        }
      }
    } catch (err) {
      this.close();
      throw err instanceof MediaError ? err : new MediaError('internal', `transcoding ${this.o.url}: ${(err as Error).message}`);
    }
    if (!enc || frames === 0) {
      this.close();
      if (this.index === 0) throw new MediaError('source', `transcoding ${this.o.url}: no video`);
      return null;
    }
    await enc.finish();
    const data = readFileSync(file);
    rmSync(file, { force: true });
    const durationMs = Math.round((this.pending?.ptsMs ?? (start + (frames * 1000) / (Math.round(this.source.stats().sourceFps) || 25))) - start);
    return { index: this.index++, data, startMs: Math.round(start), durationMs };
  }

  close(): void {
    this.done = true;
    this.pending?.release();
    this.pending = null;
    this.source.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A running transcode; `next()` yields slices as ffmpeg completes them, null at the end. */
export class Transcoder implements SliceSource {
  readonly backend = 'ffmpeg-pipe' as const;
  private readonly dir = mkdtempSync(path.join(os.tmpdir(), 'retinad-slices-'));
  private readonly child: ChildProcess;
  private handed = 0;
  private exit: { code: number | null; stderr: string } | null = null;
  private stderr = '';
  private stopped = false;

  constructor(private readonly o: TranscodeOptions) {
    this.child = spawn(ffmpegPath(), transcodeArgs(o, this.dir), { stdio: ['ignore', 'ignore', 'pipe'], env: proxyEnv(o.httpProxy) });
    this.child.stderr!.on('data', (c: Buffer) => { this.stderr = (this.stderr + c.toString()).slice(-2000); });
    this.child.on('error', (err) => { this.exit = { code: -1, stderr: err.message }; });
    this.child.on('exit', (code) => { this.exit = { code, stderr: this.stderr }; });
  }

  private completed(): Array<{ file: string; start: number; end: number }> {
    const list = path.join(this.dir, 'slices.csv');
    if (!existsSync(list)) return [];
    return readFileSync(list, 'utf8').trim().split('\n').filter(Boolean).map((l) => {
      // split() returns at least one element, so file is always there; a short line gives NaN times.
      const [file = '', start, end] = l.split(',');
      return { file, start: Number(start), end: Number(end) };
    });
  }

  async next(): Promise<VideoSlice | null> {
    for (;;) {
      const done = this.completed();
      const s = done[this.handed];
      if (s) {
        const data = readFileSync(path.join(this.dir, s.file));
        rmSync(path.join(this.dir, s.file), { force: true });
        return { index: this.handed++, data, startMs: Math.round((this.o.startMs ?? 0) + s.start * 1000), durationMs: Math.round((s.end - s.start) * 1000) };
      }
      if (this.exit) {
        if (this.stopped || (this.exit.code === 0 && this.handed > 0)) { this.cleanup(); return null; }
        this.cleanup();
        const why = this.exit.stderr.trim().split('\n').slice(-2).join(' | ') || (this.exit.code === 0 ? 'no video' : `exit ${this.exit.code}`);
        throw new MediaError('source', `transcoding ${this.o.url}: ${why}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  close(): void {
    this.stopped = true;
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }

  private cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
