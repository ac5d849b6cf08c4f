/**
 * One interface, two backends: a FrameSource yields sampled frames of a video source, decoded
 * in process by the native addon when it was built with FFmpeg, else by the ffmpeg binary over
 * a pipe. Either way a frame is a native picture that the core preprocesses, crops and encodes
 * the same way; only decoding differs. `auto` picks native; `RETINAD_DECODER=pipe|native` or the
 * option forces one.
 */
import { checkFrameSourceOptions, protocolWhitelist, type FrameSourceOptions } from './decoder-options.ts';
import { nativeDecoding, nativeCore, loadNative, type NativeFrame, type PreprocessInfo } from './native.ts';
import { encodeImage } from './image-codec.ts';
import { statSync } from 'node:fs';
import { MediaError } from './media-error.ts';
import { frameSpec, type PreparedSpec, type PreprocessSpec } from './preprocess-spec.ts';
import { FrameSampler, type SourceError, type SampledFrame } from '../frame-sampler.ts';

export type BackendName = 'native' | 'ffmpeg-pipe';

export { MediaError };

export interface SourceFrame {
  readonly ptsMs: number;
  /** System clock (epoch ms) when the frame was decoded. */
  readonly wallMs: number;
  readonly width: number;
  readonly height: number;
  readonly index: number;
  /** The frame (or a crop) as JPEG. */
  jpeg(quality?: number, crop?: { x: number; y: number; width: number; height: number }): Promise<Buffer>;
  /** The frame (or a crop) as lossless PNG. */
  png(crop?: { x: number; y: number; width: number; height: number }): Promise<Buffer>;
  /**
   * Writes a model input tensor into `out`, from the frame or from `crop` of it. A spec from
   * preparePreprocessSpec is used as it is (checked once, per task); any other is checked here.
   */
  preprocess(spec: PreprocessSpec | PreparedSpec, out: ArrayBuffer | ArrayBufferView, crop?: { x: number; y: number; width: number; height: number }): Promise<PreprocessInfo>;
  /** Frees the native picture now instead of at garbage collection. */
  release(): void;
  /** The native picture behind it (absent only when the addon is not loaded at all). */
  readonly native?: NativeFrame;
}

export interface FrameSourceStats {
  backend: BackendName;
  /** Where decoding runs: software, cuda, vaapi. */
  decode: string;
  codec: string;
  width: number;
  height: number;
  framesSampled: number;
  framesDecoded: number;
  reconnects: number;
  /** Frame rate of the source as its container states it (0 when unknown). */
  sourceFps: number;
  /** The source's duration as its container states it, read when it opened (absent: unknown, or live). */
  durationMs?: number;
}

export interface FrameSource {
  readonly backend: BackendName;
  /** The next sampled frame, or null at the end. Rejects with MediaError. */
  next(): Promise<SourceFrame | null>;
  close(): void;
  stats(): FrameSourceStats;
}

/** Which backend `auto` resolves to here, and why. */
export function chooseBackend(want: 'auto' | 'native' | 'pipe' = (process.env.RETINAD_DECODER as 'native' | 'pipe' | undefined) ?? 'auto'): { backend: BackendName; reason: string } {
  const native = nativeDecoding();
  if (want === 'pipe') return { backend: 'ffmpeg-pipe', reason: 'forced' };
  if (native) return { backend: 'native', reason: 'addon built with FFmpeg' };
  const why = loadNative().addon ? 'addon built without FFmpeg' : `addon not loaded: ${loadNative().error}`;
  if (want === 'native') throw new MediaError('env', `native decoder requested but unavailable: ${why}`);
  return { backend: 'ffmpeg-pipe', reason: why };
}

/** Opens a source on the chosen backend. Option errors throw OptionError at once. */
export function openFrameSource(options: FrameSourceOptions, backend: 'auto' | 'native' | 'pipe' = 'auto'): FrameSource {
  const o = checkFrameSourceOptions(options);
  // A FIFO or device named as a file source would be read forever: regular files only (checked
  // again here, at open, after the dispatch-time URL policy).
  const local = o.url.startsWith('file:') ? fileUrlToPath(o.url) : /^[a-z][a-z0-9+.-]*:/i.test(o.url) ? null : o.url;
  if (local !== null) {
    let st;
    try { st = statSync(local); } catch { st = null; }
    if (st && !st.isFile()) throw new MediaError('source', `source ${o.url.slice(0, 200)} is not a regular file`);
  }
  const chosen = chooseBackend(backend === 'auto' ? undefined : backend).backend;
  return chosen === 'native' ? new NativeFrameSource(o) : new PipeFrameSource(o);
}

const fileUrlToPath = (u: string) => (u.startsWith('file://') ? decodeURIComponent(new URL(u).pathname) : u);

class NativeFrameSource implements FrameSource {
  readonly backend = 'native' as const;
  private readonly dec;
  private closed = false;

  constructor(o: ReturnType<typeof checkFrameSourceOptions>) {
    const addon = nativeDecoding()!;
    this.dec = new addon.Decoder!({ ...o, url: fileUrlToPath(o.url), protocolWhitelist: protocolWhitelist(o.url) });
    this.dec.start();
  }

  async next(): Promise<SourceFrame | null> {
    if (this.closed) return null;
    let f: NativeFrame | null;
    try {
      f = await this.dec.read();
    } catch (err) {
      const e = err as Error & { kind?: MediaError['kind'] };
      throw new MediaError(e.kind ?? 'internal', e.message);
    }
    return f ? wrapNative(f) : null;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dec.close();
  }

  stats(): FrameSourceStats {
    const s = this.dec.stats();
    return { backend: 'native', decode: s.backend, codec: s.codec, width: s.width, height: s.height, framesSampled: s.framesSampled, framesDecoded: s.framesDecoded, reconnects: s.reconnects, sourceFps: s.sourceFps, ...(s.durationMs ? { durationMs: s.durationMs } : {}) };
  }
}

function wrapNative(f: NativeFrame): SourceFrame {
  return {
    ptsMs: f.ptsMs, wallMs: f.wallMs, width: f.width, height: f.height, index: f.index, native: f,
    jpeg: (quality = 90, crop) => encodeImage(f, 'jpeg', quality, crop),
    png: (crop) => encodeImage(f, 'png', 0, crop),
    preprocess: (spec, out, crop) => f.preprocess(frameSpec(spec, crop), out),
    release: () => f.release(),
  };
}

/**
 * The ffmpeg binary over a pipe: raw 4:2:0 pictures that become native frames (the addon built
 * without FFmpeg still has the frame core); JPEGs only when the addon did not load at all.
 */
class PipeFrameSource implements FrameSource {
  readonly backend = 'ffmpeg-pipe' as const;
  private readonly sampler: FrameSampler;
  private readonly queue: SampledFrame[] = [];
  private waiter: (() => void) | null = null;
  private ended = false;
  private error: MediaError | null = null;
  private sampled = 0;
  private paused = false;
  private size = { width: 0, height: 0 };

  constructor(private readonly o: ReturnType<typeof checkFrameSourceOptions>) {
    this.sampler = new FrameSampler({ url: o.url, fps: Math.max(0, o.fps), startMs: o.startMs, stallTimeoutMs: o.readTimeoutMs + o.openTimeoutMs, httpProxy: o.httpProxy,
      threads: o.threads, output: nativeCore() ? 'raw' : 'jpeg' });
    this.sampler.on('frame', (f: SampledFrame) => {
      this.queue.push(f);
      this.sampled++;
      this.size = { width: f.width, height: f.height };
      if (this.queue.length >= this.o.queue && !this.paused) { this.paused = true; this.sampler.pause(); }
      this.wake();
    });
    this.sampler.once('end', () => { this.ended = true; this.wake(); });
    this.sampler.once('error', (e: SourceError) => { this.error = new MediaError('source', e.message); this.ended = true; this.wake(); });
    this.sampler.start();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  async next(): Promise<SourceFrame | null> {
    for (;;) {
      const f = this.queue.shift();
      if (f) {
        if (this.paused && this.queue.length < this.o.queue) { this.paused = false; this.sampler.resume(); }
        return pipeFrame(f, this.sampler.stream?.bt709 ?? false);
      }
      if (this.error) throw this.error;
      if (this.ended) return null;
      await new Promise<void>((r) => (this.waiter = r));
    }
  }

  close(): void {
    this.ended = true;
    this.sampler.stop();
    this.wake();
  }

  stats(): FrameSourceStats {
    const st = this.sampler.stream;
    return { backend: 'ffmpeg-pipe', decode: 'software', codec: st?.codec ?? '', width: this.size.width, height: this.size.height,
      framesSampled: this.sampled, framesDecoded: 0, reconnects: 0, sourceFps: st?.fps ?? 0, ...(this.sampler.durationMs ? { durationMs: this.sampler.durationMs } : {}) };
  }
}

function pipeFrame(f: SampledFrame, bt709: boolean): SourceFrame {
  const core = nativeCore();
  if (f.yuv && core) {
    const frame = core.Frame.create(f.width, f.height, 'yuv420p', f.yuv, f.fullRange ?? false, bt709, f.ptsMs, f.index);
    return { ...wrapNative(frame), wallMs: Date.now() };
  }
  const jpeg = f.jpeg ?? Buffer.alloc(0);
  const noCore = () => new MediaError('env', `the native core is not loaded (${loadNative().error ?? 'unknown reason'}): this frame is a JPEG only`);
  return {
    ptsMs: f.ptsMs, wallMs: Date.now(), width: f.width, height: f.height, index: f.index,
    jpeg: async (_q, crop) => {
      if (crop) throw noCore();
      return jpeg;
    },
    png: async () => { throw noCore(); },
    preprocess: async () => { throw noCore(); },
    release: () => undefined,
  };
}
