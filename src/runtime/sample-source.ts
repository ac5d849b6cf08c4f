/**
 * A sample set ("RDS1", plugins/train-blob.ts) read as a frame source: each sample is a grey
 * image of the plugin's input size, handed to the ordinary plugin runner as one frame with
 * `ptsMs` = its index. Inference tasks run over held-out or stored samples this way — the same
 * pool, sandbox and ONNX Runtime as a camera's frames — and each result's Pts names its sample.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FrameSource, FrameSourceStats, SourceFrame } from './media/frame-source.ts';
import { MediaError } from './media/media-error.ts';
import { frameSpec, type PreparedSpec, type PreprocessSpec } from './media/preprocess-spec.ts';
import type { PreprocessInfo } from './media/native.ts';
import { decodeSamples, MAX_SAMPLE_BYTES, type SampleSet } from '../plugins/train-blob.ts';
import { rangedFetch } from '../net/ranged-fetch.ts';

/** True for a StreamURL that names a sample set rather than a video. */
export function isSampleSetUrl(url: string | undefined): boolean {
  return !!url && /\.rds(\?.*)?$/i.test(url);
}

/**
 * Reads a sample set: a local file, or over HTTP(S) in ranges that resume after a cut and are
 * checked against the server's SHA-256 when it states one (an executor's /System/Samples does;
 * EC5). `auth` gives the headers the URL may get (the node token, to trusted executors only).
 */
export async function loadSampleSet(url: string, auth?: (url: string) => Promise<Record<string, string>>): Promise<SampleSet> {
  let bytes: Uint8Array;
  if (/^https?:/i.test(url)) {
    const headers = (await auth?.(url)) ?? {};
    if (/\/System\/Samples\//.test(new URL(url).pathname)) {
      bytes = await rangedFetch(url, { headers, maxBytes: MAX_SAMPLE_BYTES });
    } else {
      const r = await fetch(url, { headers, signal: AbortSignal.timeout(60_000) });
      if (!r.ok) throw new Error(`InputInfo.StreamURL: ${url} answered HTTP ${r.status}`);
      if (Number(r.headers.get('content-length') ?? 0) > MAX_SAMPLE_BYTES) throw new Error(`InputInfo.StreamURL: ${url} is larger than the ${MAX_SAMPLE_BYTES} bytes a sample set may have`);
      bytes = new Uint8Array(await r.arrayBuffer());
    }
  } else {
    bytes = await readFile(url.startsWith('file:') ? fileURLToPath(url) : url);
  }
  try {
    return decodeSamples(bytes);
  } catch (err) {
    throw new Error(`InputInfo.StreamURL: ${(err as Error).message}`);
  }
}

/** One sample as a frame: `preprocess` writes (pixel × scale − mean) / std into every channel. */
function sampleFrame(s: SampleSet, i: number, side: { w: number; h: number }): SourceFrame {
  const px = s.features.subarray(i * s.dim, (i + 1) * s.dim);
  const unsupported = (): never => { throw new MediaError('source', 'a sample-set frame has no picture to encode; only preprocess is available'); };
  return {
    ptsMs: i, wallMs: Date.now(), width: side.w, height: side.h, index: i,
    jpeg: async () => unsupported(), png: async () => unsupported(),
    async preprocess(spec: PreprocessSpec | PreparedSpec, out: ArrayBuffer | ArrayBufferView): Promise<PreprocessInfo> {
      const sp = frameSpec(spec);
      if (sp.width * sp.height !== s.dim) throw new MediaError('source', `sample set: ${s.dim} pixels per sample, the plugin's input is ${sp.width}×${sp.height}`);
      const n = sp.width * sp.height;
      const buf = out instanceof ArrayBuffer ? out : out.buffer;
      const off = out instanceof ArrayBuffer ? 0 : out.byteOffset;
      const f32 = sp.dtype === 'float32' ? new Float32Array(buf, off, n * 3) : null;
      const u8 = sp.dtype === 'uint8' ? new Uint8Array(buf, off, n * 3) : null;
      for (let c = 0; c < 3; c++) for (let j = 0; j < n; j++) {
        // A float tensor takes the value as it is (a device's features are not whole pixels, DEC2); uint8 rounds and clamps.
        const v = (px[j] ?? 0) * 255;
        const at = sp.layout === 'nchw' ? c * n + j : j * 3 + c;
        if (f32) f32[at] = (v * sp.scale - (sp.mean[c] ?? 0)) / (sp.std[c] ?? 1);
        else if (u8) u8[at] = Math.max(0, Math.min(255, Math.round(v)));
      }
      return { scaleX: 1, scaleY: 1, padX: 0, padY: 0, contentWidth: sp.width, contentHeight: sp.height };
    },
    release() { /* nothing native */ },
  };
}

/** Opens a sample set as a FrameSource; the set is read once, at the first frame. */
export function openSampleSource(url: string, auth?: (url: string) => Promise<Record<string, string>>): FrameSource {
  let set: Promise<SampleSet> | null = null;
  let next = 0;
  let closed = false;
  let side = { w: 0, h: 0 };
  return {
    backend: 'native',
    async next() {
      const s = await (set ??= loadSampleSet(url, auth).catch((err: Error) => { throw new MediaError('source', err.message); }).then((x) => { const r = Math.round(Math.sqrt(x.dim)); side = { w: r, h: r }; return x; }));
      if (closed || next >= s.labels.length) return null;
      return sampleFrame(s, next++, side);
    },
    close() { closed = true; },
    stats(): FrameSourceStats {
      return { backend: 'native', decode: 'samples', codec: 'rds1', width: side.w, height: side.h, framesSampled: next, framesDecoded: next, reconnects: 0, sourceFps: 0 };
    },
  };
}
