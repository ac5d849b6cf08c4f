/**
 * Options of a frame source, checked here before anything reaches C++ or ffmpeg: a bad value
 * is an error naming the option and what is allowed.
 */
export interface FrameSourceOptions {
  /** file://, rtsp(s)://, rtmp://, http(s):// (files, HLS .m3u8, HTTP-FLV), or a plain path. */
  url: string;
  /** Frames per second to keep, by timestamp; 0 keeps every frame. */
  fps: number;
  /** Start this far into the source (ms), e.g. to resume from a checkpoint. */
  startMs?: number;
  /** Decode on: auto (hardware when present), none (software), cuda, vaapi. */
  hwaccel?: 'auto' | 'none' | 'cuda' | 'vaapi';
  openTimeoutMs?: number;
  /** A source silent this long is stalled: an error, or a reconnect for live sources. */
  readTimeoutMs?: number;
  rtspTransport?: 'tcp' | 'udp';
  /** Reopen a live source after it drops; default on for rtsp/rtmp. */
  reconnect?: boolean;
  /** -1 = forever (once the source has produced a frame). */
  maxReconnects?: number;
  /** Opens tried before the first frame ever arrives: a wrong URL or a refusing server fails instead of retrying forever. */
  initialAttempts?: number;
  backoffMaxMs?: number;
  /** Sampled frames buffered before the decoder waits. */
  queue?: number;
  threads?: number;
  /** Apply rotation metadata. */
  autorotate?: boolean;
  /**
   * Every HTTP(S) request FFmpeg makes for this source goes through this proxy (net/source-proxy:
   * the URL policy on each redirect and playlist entry). Set by the executor, not by tasks.
   */
  httpProxy?: string;
}

/**
 * The protocols FFmpeg may open for a source, by the source's scheme: what it names and what that
 * needs underneath, nothing else. A playlist or a redirect cannot reach file://, pipe: or
 * another scheme from a network source, nor the network from a file.
 */
export function protocolWhitelist(url: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase() ?? 'file';
  switch (scheme) {
    case 'http': case 'https': return 'http,https,tls,tcp,httpproxy,crypto';
    case 'rtsp': case 'rtsps': return 'rtsp,rtsps,rtp,srtp,udp,tcp,tls';
    case 'rtmp': case 'rtmps': return 'rtmp,rtmps,tcp,tls';
    case 'udp': return 'udp,rtp';
    case 'tcp': return 'tcp';
    case 'srt': return 'srt';
    default: return 'file';
  }
}

/** Raised for an option a caller got wrong (a programming or configuration error). */
export class OptionError extends Error {
  constructor(readonly option: string, message: string) {
    super(`${option}: ${message}`);
    this.name = 'OptionError';
  }
}

const SCHEMES = /^(file|rtsp|rtsps|rtmp|rtmps|http|https|udp|tcp|srt):/i;

function num(o: Record<string, unknown>, k: string, min: number, max: number, integer = true): void {
  const v = o[k];
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
    throw new OptionError(k, `must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}] (got ${JSON.stringify(v)})`);
  }
}

function oneOf(o: Record<string, unknown>, k: string, allowed: readonly string[]): void {
  const v = o[k];
  if (v !== undefined && !allowed.includes(v as string)) throw new OptionError(k, `must be one of ${allowed.join(', ')} (got ${JSON.stringify(v)})`);
}

/** Throws OptionError for the first bad option; returns the options with defaults applied. */
export function checkFrameSourceOptions(input: FrameSourceOptions): Required<Omit<FrameSourceOptions, 'maxReconnects'>> & { maxReconnects: number } {
  const o = input as unknown as Record<string, unknown>;
  if (typeof o.url !== 'string' || o.url.length === 0) throw new OptionError('url', 'is required');
  if (o.url.length > 4096) throw new OptionError('url', 'is longer than 4096 characters');
  if (/[\0\r\n]/.test(o.url)) throw new OptionError('url', 'must not contain NUL or line breaks');
  if (/^[a-z][a-z0-9+.-]*:/i.test(o.url) && !SCHEMES.test(o.url)) throw new OptionError('url', `scheme of "${o.url.slice(0, 40)}" is not supported (file, rtsp, rtsps, rtmp, http, https, udp, tcp, srt)`);
  num(o, 'fps', 0, 1000, false);
  if (o.fps === undefined) throw new OptionError('fps', 'is required (0 keeps every frame)');
  num(o, 'startMs', 0, 1e12, false);
  oneOf(o, 'hwaccel', ['auto', 'none', 'cuda', 'vaapi']);
  num(o, 'openTimeoutMs', 100, 600_000);
  num(o, 'readTimeoutMs', 100, 600_000);
  oneOf(o, 'rtspTransport', ['tcp', 'udp']);
  num(o, 'maxReconnects', -1, 1e9);
  num(o, 'initialAttempts', 1, 1000);
  num(o, 'backoffMaxMs', 10, 600_000);
  num(o, 'queue', 1, 256);
  num(o, 'threads', 0, 64);
  if (o.httpProxy !== undefined && (typeof o.httpProxy !== 'string' || !/^http:\/\/[^\s/]+$/.test(o.httpProxy))) throw new OptionError('httpProxy', 'must be an http:// proxy URL without a path');
  for (const b of ['reconnect', 'autorotate']) if (o[b] !== undefined && typeof o[b] !== 'boolean') throw new OptionError(b, 'must be true or false');
  const live = /^(rtsp|rtsps|rtmp|rtmps|udp|srt):/i.test(input.url);
  return {
    url: input.url,
    fps: input.fps,
    startMs: input.startMs ?? 0,
    hwaccel: input.hwaccel ?? 'auto',
    openTimeoutMs: input.openTimeoutMs ?? 10_000,
    readTimeoutMs: input.readTimeoutMs ?? 10_000,
    rtspTransport: input.rtspTransport ?? 'tcp',
    reconnect: input.reconnect ?? live,
    maxReconnects: input.maxReconnects ?? -1,
    initialAttempts: input.initialAttempts ?? 3,
    backoffMaxMs: input.backoffMaxMs ?? 10_000,
    queue: input.queue ?? 4,
    threads: input.threads ?? 0,
    autorotate: input.autorotate ?? true,
    httpProxy: input.httpProxy ?? '',
  };
}

/**
 * Decoder threads for a stream opened while `open` others are decoding on `cores` cores: the
 * cores shared out, at least one. Left at FFmpeg's automatic count, every decoder starts a frame
 * thread per core and several streams only fight over them (4 streams of 720p H.264 sampled at
 * 5 of 25 fps on 2 cores: 6.7–7.5 ms of CPU per sampled frame, 6.0 ms with one thread each).
 * A stream alone keeps 0 (automatic): its latency gains from the threads.
 */
export function decoderThreads(cores: number, open: number): number {
  return open <= 0 ? 0 : Math.max(1, Math.floor(cores / (open + 1)));
}
