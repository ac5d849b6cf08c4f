/**
 * The native addon's typed surface. Loading is absent-safe: when the addon is missing callers get
 * null and the reason. Every build has frames and preprocessing (`Frame`); decoding, encoding and
 * JPEG/PNG through FFmpeg exist only when it was built with the FFmpeg libraries.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeBuildInfo {
  addonVersion: string;
  napiVersion: number;
  compiler: string;
  ffmpeg: { avcodec: string; avformat: string; avutil: string; swscale: string } | null;
}

/** What `Decoder` takes (checked in TS first, see decoder-options.ts). */
export interface NativeDecoderOptions {
  url: string;
  inputFormat?: string;
  fps?: number;
  startMs?: number;
  hwaccel?: 'auto' | 'none' | 'cuda' | 'vaapi';
  openTimeoutMs?: number;
  readTimeoutMs?: number;
  rtspTransport?: 'tcp' | 'udp';
  queue?: number;
  reconnect?: boolean;
  maxReconnects?: number;
  initialAttempts?: number;
  backoffMaxMs?: number;
  threads?: number;
  autorotate?: boolean;
  /** FFmpeg's protocol_whitelist for this source. */
  protocolWhitelist?: string;
  /** FFmpeg's http_proxy for HTTP(S) sources. */
  httpProxy?: string;
}

export interface NativeDecoderStats {
  packets: number;
  framesDecoded: number;
  framesSampled: number;
  /** Packets sent while no sampling instant wanted their frame: decoded only if other frames refer to them. */
  packetsSkippable: number;
  reconnects: number;
  width: number;
  height: number;
  rotation: number;
  sourceFps: number;
  /** The container's duration read at open (0: unknown or live; absent in addons built before it). */
  durationMs?: number;
  codec: string;
  /** "software", "cuda", "vaapi" or "none" before the source opened. */
  backend: string;
}

/** Normalised preprocess spec as the addon reads it (all fields present). */
export interface NativePreprocessSpec {
  width: number;
  height: number;
  resize: 'letterbox' | 'stretch';
  layout: 'nchw' | 'nhwc';
  dtype: 'float32' | 'uint8';
  channels: 'rgb' | 'bgr';
  mean: [number, number, number];
  std: [number, number, number];
  scale: number;
  pad: number;
  crop?: { x: number; y: number; width: number; height: number };
}

export interface PreprocessInfo {
  scaleX: number;
  scaleY: number;
  padX: number;
  padY: number;
  contentWidth: number;
  contentHeight: number;
}

export interface NativeFrame {
  readonly width: number;
  readonly height: number;
  readonly ptsMs: number;
  readonly wallMs: number;
  readonly index: number;
  readonly keyframe: boolean;
  readonly format: string;
  /** JPEG or PNG through FFmpeg's encoders (FFmpeg builds only; image-codec.ts covers both). */
  encode?(format: 'jpeg' | 'png', quality: number, crop?: { x: number; y: number; width: number; height: number }): Promise<Buffer>;
  preprocess(spec: NativePreprocessSpec, out: ArrayBuffer | ArrayBufferView): Promise<PreprocessInfo>;
  planes(): { format: string; width: number; height: number; fullRange: boolean; bt709: boolean; planes: Array<{ data: Buffer; linesize: number }> };
  release(): void;
}

export interface NativeDecoder {
  start(): void;
  read(): Promise<NativeFrame | null>;
  close(): void;
  stats(): NativeDecoderStats;
}

export interface ProbeResult {
  cpu: { arch: string; flags: string[] };
  nvml: { available: boolean; reason?: string; driverVersion?: string; gpus?: Array<Record<string, string | number>> };
  cuda: { available: boolean; reason?: string; driverApiVersion?: string; deviceCount?: number; nvenc?: boolean;
    nvdec?: { available: boolean; reason?: string; codecs?: Array<{ format: string; maxWidth: number; maxHeight: number; engines: number }> } };
  vaapi: { libva: boolean; renderNodes: string[] };
}

export interface NativeEncoder {
  /** Encodes one frame at `ptsMs` from the start of the file. */
  write(frame: NativeFrame, ptsMs: number): Promise<{ frames: number; bytes: number }>;
  /** Flushes, writes the MP4 trailer and closes the file. */
  finish(): Promise<{ frames: number; bytes: number }>;
}

export interface NativeAddon {
  buildInfo(): NativeBuildInfo;
  probe(): ProbeResult;
  /** NVML alone, cheap enough for every AvailableResource report (builds before issue 15 lack it). */
  probeNvml?(): ProbeResult['nvml'];
  Decoder?: new (o: NativeDecoderOptions) => NativeDecoder;
  codecs?(): { decoders: string[]; encoders: string[] };
  Encoder?: new (o: { file: string; codec: 'libx264' | 'libx265'; bitrateKbps: number; width: number; height: number; fps: number }) => NativeEncoder;
  Frame?: {
    /** A frame from packed planes (copied); ptsMs and index stamp frames made from a pipe. */
    create(width: number, height: number, format: 'yuv420p' | 'yuvj420p' | 'nv12' | 'rgb24', data: Uint8Array, fullRange?: boolean, bt709?: boolean, ptsMs?: number, index?: number): NativeFrame;
    /** Decodes a JPEG or PNG held in memory (FFmpeg builds only; image-codec.ts covers both). */
    decodeImage?(data: Buffer): Promise<NativeFrame>;
  };
}

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
let loaded: { addon: NativeAddon | null; error?: string } | undefined;

/** The addon, or null with the reason. `RETINAD_NATIVE_PATH` points at another build. */
export function loadNative(): { addon: NativeAddon | null; error?: string } {
  if (loaded) return loaded;
  const file = process.env.RETINAD_NATIVE_PATH ?? path.join(root, 'native', 'build', 'Release', 'retinad_native.node');
  try {
    loaded = { addon: require(file) as NativeAddon };
  } catch (err) {
    loaded = { addon: null, error: (err as Error).message.split('\n')[0] };
  }
  return loaded;
}

/** The addon when it can decode (built with FFmpeg), else null. */
export function nativeDecoding(): NativeAddon | null {
  const { addon } = loadNative();
  return addon?.Decoder && addon.Frame ? addon : null;
}

/** The addon's frame and preprocessing core (every build), else null. */
export function nativeCore(): (NativeAddon & { Frame: NonNullable<NativeAddon['Frame']> }) | null {
  const { addon } = loadNative();
  return addon?.Frame ? (addon as NativeAddon & { Frame: NonNullable<NativeAddon['Frame']> }) : null;
}
