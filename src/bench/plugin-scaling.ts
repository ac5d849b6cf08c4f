/**
 * Part (b): one plugin's frames per second at 1, 2, 4, … concurrent streams until throughput
 * stops growing (< 5 % gain), with each frame's time split into decode, preprocess, queue,
 * inference and post-processing — the same path a plugin task takes (runtime/runners/plugin.ts):
 * native decode → native preprocess → sandbox pool (WASM + ONNX Runtime), crop stage per box.
 */
import os from 'node:os';
import { PluginPool, PluginCallError } from '../plugins/pool.ts';
import type { LoadedPlugin } from '../plugins/registry.ts';
import { openFrameSource, type SourceFrame } from '../runtime/media/frame-source.ts';
import { hostAccelerators } from '../runtime/accelerators.ts';
import { providerLabel } from '../plugins/providers.ts';
import { percentiles, type Percentiles } from './stats.ts';

export const STAGES = ['decode', 'preprocess', 'queue', 'inference', 'post'] as const;
export type Stage = (typeof STAGES)[number];

export interface ScalingStep {
  streams: number;
  workers: number;
  threadsPerWorker: number;
  frames: number;
  fps: number;
  /** Crop-stage calls per frame (OCR: text boxes recognised). */
  cropsPerFrame: number;
  failures: number;
  latencyMs: Record<Stage | 'total', Percentiles>;
  /** Execution providers the models ran on. */
  providers: string[];
}

type Spec = LoadedPlugin['manifest']['input'];
const specOf = (i: Spec) => ({ width: i.width, height: i.height, resize: i.resize, layout: i.layout, dtype: i.dtype, channels: i.channels,
  mean: i.mean as [number, number, number] | undefined, std: i.std as [number, number, number] | undefined, scale: i.scale, pad: i.pad });
const bytesOf = (i: Spec) => i.width * i.height * 3 * ((i.dtype ?? 'float32') === 'float32' ? 4 : 1);

/** Runs `streams` streams of `clip` through a fresh pool sized for them; `framesPerStream` each. */
export async function runStep(p: LoadedPlugin, clip: string, streams: number, framesPerStream: number, sampleFps: number): Promise<ScalingStep> {
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  // Workers grow with streams; the cores are shared out as intra-op threads (as the executor's --plugin-workers/--plugin-threads would be set).
  const workers = Math.min(streams, cores);
  const threads = Math.max(1, Math.floor(cores / workers));
  // The models run where an executor would run them: the manifest's accelerator, as the probe and ONNX Runtime allow.
  const pool = new PluginPool({ workers, intraOpThreads: threads, accelerators: hostAccelerators() });
  const m = p.manifest;
  const lat: Record<Stage | 'total', number[]> = { decode: [], preprocess: [], queue: [], inference: [], post: [], total: [] };
  const providers = new Set<string>();
  let crops = 0;
  let failures = 0;
  let frames = 0;
  try {
    // Sessions are created on a worker's first call: warm every worker so start-up is not measured.
    await Promise.all(Array.from({ length: workers }, () => pool.call(p, { input: m.input.previousFrame ? new SharedArrayBuffer(bytesOf(m.input)) : new ArrayBuffer(bytesOf(m.input)), ptsMs: 0, args: {} }).catch(() => undefined)));
    const t0 = performance.now();
    await Promise.all(Array.from({ length: streams }, async () => {
      const src = openFrameSource({ url: clip, fps: sampleFps, queue: 4 });
      let previous: ArrayBuffer | SharedArrayBuffer | undefined;
      try {
        for (let n = 0; n < framesPerStream; n++) {
          const tf = performance.now();
          const f = await src.next();
          if (!f) break;
          const split: Record<Stage, number> = { decode: performance.now() - tf, preprocess: 0, queue: 0, inference: 0, post: 0 };
          try {
            const input = m.input.previousFrame ? new SharedArrayBuffer(bytesOf(m.input)) : new ArrayBuffer(bytesOf(m.input));
            const tp = performance.now();
            const info = await f.preprocess(specOf(m.input), new Uint8Array(input));
            split.preprocess = performance.now() - tp;
            const r = await pool.call(p, { input, previous: m.input.previousFrame ? previous : undefined, ptsMs: f.ptsMs, args: {} });
            previous = input;
            for (const u of r.providers) providers.add(providerLabel(u));
            split.queue = r.queueMs; split.inference = r.inferMs; split.post = r.postMs;
            // Not `crops += await …`: that reads `crops` before the await and loses other streams' counts.
            const cropsRun = m.cropStage ? await cropStage(pool, p, f, r.output, info, split) : 0;
            crops += cropsRun;
            frames++;
          } catch (err) {
            if (!(err instanceof PluginCallError)) throw err;
            failures++;
          } finally {
            f.release();
          }
          for (const s of STAGES) lat[s].push(split[s]);
          lat.total.push(performance.now() - tf);
        }
      } finally {
        src.close();
      }
    }));
    const fps = (frames * 1000) / (performance.now() - t0);
    return {
      streams, workers, threadsPerWorker: threads, frames, fps: Math.round(fps * 100) / 100, cropsPerFrame: frames ? Math.round((crops / frames) * 100) / 100 : 0, failures,
      latencyMs: Object.fromEntries(Object.entries(lat).map(([k, v]) => [k, percentiles(v)])) as ScalingStep['latencyMs'], providers: [...providers],
    };
  } finally {
    await pool.close();
  }
}

/** The crop stage of a two-stage plugin (as runners/plugin.ts runs it); its time is added to inference and post. Returns the crops run. */
async function cropStage(pool: PluginPool, p: LoadedPlugin, f: SourceFrame, output: unknown, info: { padX: number; padY: number; scaleX: number; scaleY: number }, split: Record<Stage, number>): Promise<number> {
  const ci = p.manifest.cropStage!.input;
  const boxes: Array<{ x: number; y: number; w: number; h: number }> = [];
  for (const r of (output as { Results?: Array<{ ResultData?: { Boxes?: Array<{ x: number; y: number; w: number; h: number }> } }> })?.Results ?? []) {
    for (const b of r?.ResultData?.Boxes ?? []) {
      const x = Math.max(0, Math.round((b.x - info.padX) / info.scaleX)), y = Math.max(0, Math.round((b.y - info.padY) / info.scaleY));
      boxes.push({ x, y, w: Math.max(1, Math.min(f.width - x, Math.round(b.w / info.scaleX))), h: Math.max(1, Math.min(f.height - y, Math.round(b.h / info.scaleY))) });
    }
  }
  const todo = boxes.slice(0, p.manifest.cropStage!.maxCrops ?? 32);
  await Promise.all(todo.map(async (b) => {
    const input = new ArrayBuffer(bytesOf(ci));
    await f.preprocess({ ...specOf(ci), crop: { x: b.x, y: b.y, width: b.w, height: b.h } }, new Uint8Array(input));
    try {
      const r = await pool.call(p, { input, ptsMs: f.ptsMs, args: {}, stage: 'crop' });
      split.inference += r.inferMs;
      split.post += r.postMs;
    } catch (err) {
      if (!(err instanceof PluginCallError)) throw err;
    }
  }));
  return todo.length;
}

/** 1, 2, 4, … streams until the gain is under 5 % (or `maxStreams`); `framesPerStep` shared among the streams. */
export async function scaling(p: LoadedPlugin, clip: string, o: { framesPerStep: number; minPerStream: number; maxStreams: number; sampleFps: number; progress: (what: string) => void }): Promise<ScalingStep[]> {
  const steps: ScalingStep[] = [];
  for (let n = 1; n <= o.maxStreams; n *= 2) {
    o.progress(`${p.manifest.AlgType} ${p.manifest.AlgVersion}: ${n} stream${n > 1 ? 's' : ''}`);
    // Each stream reads a few frames at least: with one or two, opening its decoder would be most of what is measured.
    const s = await runStep(p, clip, n, Math.max(o.minPerStream, Math.ceil(o.framesPerStep / n)), o.sampleFps);
    steps.push(s);
    const prev = steps[steps.length - 2];
    if (prev && s.fps < prev.fps * 1.05) break;
  }
  return steps;
}
