/**
 * Frame sampling over the ffmpeg binary (the pipe backend, used when the addon was built without
 * FFmpeg): ffmpeg decodes the source, its `fps` filter keeps frames by presentation timestamp at
 * the task's rate (fps 0: every frame), `showinfo` reports each kept frame's pts on stderr, and
 * the pictures arrive on stdout — raw 4:2:0 (yuv4mpegpipe) for the native core to preprocess and
 * encode, or JPEGs made by ffmpeg (the baseline the benchmarks compare against).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { ffmpegPath } from './ffmpeg-binary.ts';
import { JpegStreamSplitter, jpegSize } from './jpeg.ts';
import { Y4mSplitter, type Y4mHeader } from './media/y4m.ts';
import { protocolWhitelist } from './media/decoder-options.ts';

export interface SampledFrame {
  /** JPEG bytes at the source resolution (output 'jpeg'). */
  jpeg?: Buffer;
  /** Planar yuv420p picture, limited range unless `fullRange` (output 'raw'). */
  yuv?: Buffer;
  fullRange?: boolean;
  /** Presentation time in the source, ms from the first frame. */
  ptsMs: number;
  width: number;
  height: number;
  /** 0-based index among sampled frames. */
  index: number;
}

export interface FrameSamplerOptions {
  url: string;
  /** Frames per second to keep (by timestamp); 0 keeps every frame. */
  fps: number;
  /** What arrives on stdout: JPEGs encoded by ffmpeg (default) or raw yuv420p pictures. */
  output?: 'jpeg' | 'raw';
  /** Start this many ms into the source (resume from a checkpoint). */
  startMs?: number;
  /** JPEG quality scale, 2 (best) … 31; default 3. */
  qscale?: number;
  /** Give up when no frame arrives for this long (ms). */
  stallTimeoutMs?: number;
  /** HTTP(S) requests through this proxy (the executor's source proxy: the URL policy per hop). */
  httpProxy?: string;
  /** Decoder threads; absent or 0: ffmpeg's automatic count. */
  threads?: number;
}

/** Error raised when the source cannot be opened or read (ExceptionCode 60). */
export class SourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceError';
  }
}

const NETWORK = /^(rtsp|rtsps|rtmp|http|https|hls):/i;

/**
 * The ffmpeg binary's environment with the source proxy also in `http_proxy`: older FFmpeg (the
 * bundled binary is one) drops the -http_proxy option when it follows an https redirect and
 * falls back to this variable; without it the redirect would go around the proxy. `no_proxy`
 * is removed for the same reason.
 */
export function proxyEnv(httpProxy: string | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'no_proxy', 'NO_PROXY']) delete env[k];
  if (httpProxy) env.http_proxy = httpProxy;
  return env;
}

/** Builds ffmpeg's argument list for a sampling job. */
export function samplerArgs(o: FrameSamplerOptions): string[] {
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'info'];
  const url = o.url.startsWith('file://') ? decodeURIComponent(new URL(o.url).pathname) : o.url;
  if (/^rtsps?:/i.test(url)) args.push('-rtsp_transport', 'tcp', '-stimeout', '10000000');
  else if (NETWORK.test(url)) args.push('-rw_timeout', '10000000');
  // A live source is probed for 1 s of stream, not ffmpeg's default 5: the first frame comes
  // sooner, and a source that stalls early still yields the frames it sent.
  if (NETWORK.test(url)) args.push('-analyzeduration', '1000000');
  if (o.startMs && o.startMs > 0) args.push('-ss', (o.startMs / 1000).toFixed(3));
  // Confinement (issue 10), as the native decoder does: only this scheme's protocols, also for
  // what a playlist or redirect leads to, and HTTP(S) through the source proxy.
  args.push('-protocol_whitelist', protocolWhitelist(o.url));
  if (o.httpProxy && /^https?:/i.test(url)) args.push('-http_proxy', o.httpProxy);
  if (o.threads) args.push('-threads', String(o.threads));
  args.push('-i', url, '-an', '-sn', '-dn', '-vf', o.fps > 0 ? `fps=${o.fps},showinfo` : 'showinfo', '-vsync', '0');
  if (o.output === 'raw') args.push('-pix_fmt', 'yuv420p', '-f', 'yuv4mpegpipe', 'pipe:1');
  else args.push('-c:v', 'mjpeg', '-pix_fmt', 'yuvj420p', '-q:v', String(o.qscale ?? 3), '-f', 'image2pipe', 'pipe:1');
  return args;
}

/** What ffmpeg said about the input's video stream (its first `Stream #…: Video:` line). */
export interface SourceStreamInfo {
  codec: string;
  fps: number;
  bt709: boolean;
}

/** Parses ffmpeg's description of an input video stream, or null when `line` is not one. */
export function parseStreamLine(line: string): SourceStreamInfo | null {
  const [, codec, rest] = /Stream #\d+:\d+.*?: Video: (\w+)(.*)$/.exec(line) ?? [];
  if (codec === undefined || rest === undefined) return null;
  const fps = /([\d.]+) fps/.exec(rest)?.[1];
  return { codec, fps: fps !== undefined ? Number(fps) : 0, bt709: /\bbt709\b/.test(rest) };
}

/** The duration ffmpeg states for an input (`Duration: 00:00:10.00, …`) in ms; undefined for N/A or another line. */
export function parseDurationLine(line: string): number | undefined {
  const m = /^\s*Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)/.exec(line);
  return m ? Math.round(((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000) : undefined;
}

/**
 * Runs one sampling job. Emits 'frame' (SampledFrame), then exactly one of 'end' (clean EOF)
 * or 'error' (SourceError). `pause()`/`resume()` apply back-pressure to ffmpeg.
 */
export class FrameSampler extends EventEmitter {
  private child: ChildProcess | null = null;
  private readonly splitter = new JpegStreamSplitter();
  private readonly y4m = new Y4mSplitter();
  /** The input stream as ffmpeg described it, once known. */
  stream: SourceStreamInfo | null = null;
  /** The input's duration as ffmpeg read it at open (ms; undefined: unknown or live), for Progress. */
  durationMs: number | undefined;
  private inputDone = false;
  private readonly ptsQueue: number[] = [];
  private readonly pending: Buffer[] = [];
  private stderrTail = '';
  private stderrLine = '';
  private index = 0;
  private finished = false;
  private stopped = false;
  private stallTimer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: FrameSamplerOptions) {
    super();
  }

  /** Starts ffmpeg. */
  start(): void {
    const child = spawn(ffmpegPath(), samplerArgs(this.opts), { stdio: ['ignore', 'pipe', 'pipe'], env: proxyEnv(this.opts.httpProxy) });
    this.child = child;
    this.armStall();
    child.stdout!.on('data', (chunk: Buffer) => this.onData(chunk));
    child.stderr!.on('data', (chunk: Buffer) => this.onStderr(chunk.toString('utf8')));
    child.on('error', (err) => this.finish(new SourceError(`cannot run ffmpeg: ${err.message}`)));
    child.on('close', (code, signal) => {
      this.onStderr('\n');
      this.drainPending();
      if (this.stopped) return this.finish(null);
      if (code === 0) return this.finish(null);
      const why = this.stderrTail.trim().split('\n').filter((l) => !/^\s*(frame=|\[Parsed_showinfo)/.test(l)).slice(-3).join(' | ');
      this.finish(new SourceError(`source ${this.opts.url} failed (ffmpeg ${signal ?? `exit ${code}`}): ${why || 'no output'}`));
    });
  }

  /** Stops the job; 'end' follows. */
  stop(): void {
    this.stopped = true;
    this.child?.kill('SIGKILL');
  }

  pause(): void {
    this.child?.stdout?.pause();
    if (this.stallTimer) clearTimeout(this.stallTimer);
  }

  resume(): void {
    this.child?.stdout?.resume();
    this.armStall();
  }

  private armStall(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    const ms = this.opts.stallTimeoutMs ?? 30_000;
    this.stallTimer = setTimeout(() => {
      if (this.finished) return;
      this.child?.kill('SIGKILL');
      this.finish(new SourceError(`source ${this.opts.url} stalled: no frame for ${ms} ms`));
    }, ms);
    this.stallTimer.unref();
  }

  private onStderr(text: string): void {
    this.stderrTail = (this.stderrTail + text).slice(-4000);
    const lines = (this.stderrLine + text).split('\n');
    this.stderrLine = lines.pop() ?? '';
    for (const line of lines) {
      if (/^Output #/.test(line)) this.inputDone = true;
      if (!this.inputDone && !this.stream) this.stream = parseStreamLine(line);
      if (!this.inputDone && this.durationMs === undefined) this.durationMs = parseDurationLine(line);
      const m = /\[Parsed_showinfo[^\]]*\].*\bpts_time:\s*(-?[\d.]+)/.exec(line);
      if (m) this.ptsQueue.push(Math.round(Number(m[1]) * 1000));
    }
    this.drainPending();
  }

  private onData(chunk: Buffer): void {
    let images: Buffer[];
    try {
      images = this.opts.output === 'raw' ? this.y4m.push(chunk) : this.splitter.push(chunk);
    } catch (err) {
      this.child?.kill('SIGKILL');
      this.finish(new SourceError(`source ${this.opts.url}: ${(err as Error).message}`));
      return;
    }
    if (images.length) this.armStall();
    this.pending.push(...images);
    this.drainPending();
  }

  // A JPEG on stdout and its showinfo line on stderr race; pair them in order.
  private drainPending(): void {
    while (this.pending.length && (this.ptsQueue.length || this.child?.exitCode !== null)) {
      const picture = this.pending.shift()!;
      const pts = this.ptsQueue.shift();
      const ptsMs = (pts ?? Math.round((this.index * 1000) / (this.opts.fps || this.y4m.header?.fps || 25))) + (this.opts.startMs ?? 0);
      if (this.opts.output === 'raw') {
        const h = this.y4m.header as Y4mHeader;
        this.emit('frame', { yuv: picture, fullRange: h.range === 'full', ptsMs, width: h.width, height: h.height, index: this.index++ } satisfies SampledFrame);
        continue;
      }
      const size = jpegSize(picture) ?? { width: 0, height: 0 };
      this.emit('frame', { jpeg: picture, ptsMs, width: size.width, height: size.height, index: this.index++ } satisfies SampledFrame);
    }
  }

  private finish(err: SourceError | null): void {
    if (this.finished) return;
    this.finished = true;
    if (this.stallTimer) clearTimeout(this.stallTimer);
    if (err) this.emit('error', err);
    else this.emit('end');
  }
}
