/**
 * A plugin task: each sampled frame is preprocessed by the native core, run through the plugin in
 * the sandbox pool, and its results sent as AnalysisResult; a crop stage runs per box.
 */
import { ExecutionStatus, EXCEPTION_DESC_MAX_BYTES, cutUtf8 } from '../../protocol/index.ts';
import type { ExecTask } from '../exec-task.ts';
import type { FrameSource, SourceFrame } from '../media/frame-source.ts';
import { PluginCallError } from '../../plugins/pool.ts';
import type { LoadedPlugin } from '../../plugins/registry.ts';
import { OUTBOX_HIGH_WATER, type RunContext } from './context.ts';
import { emitResult } from './emit.ts';

/**
 * A plugin task: each sampled frame is preprocessed by the native core into a
 * SharedArrayBuffer (handed to the worker without a copy), run through the plugin, and its
 * results sent as AnalysisResult. A failed call costs that frame only (ExceptionCode 50).
 */
export async function runPlugin(ctx: RunContext, t: ExecTask, source: FrameSource, p: LoadedPlugin): Promise<void> {
  try {
    await pluginFrames(ctx, t, source, p);
  } finally {
    // Results bound for another executor are delivered before this stage says it is done,
    // so the next stage has them all when it is told to finish.
    if (ctx.destinations(t.info).some((d) => d !== ctx.schedulerUrl)) await ctx.outbox.flush(t.id, 30_000);
  }
}

async function pluginFrames(ctx: RunContext, t: ExecTask, source: FrameSource, p: LoadedPlugin): Promise<void> {
  const m = p.manifest;
  const spec = { width: m.input.width, height: m.input.height, resize: m.input.resize, layout: m.input.layout, dtype: m.input.dtype, channels: m.input.channels,
    mean: m.input.mean as [number, number, number] | undefined, std: m.input.std as [number, number, number] | undefined, scale: m.input.scale, pad: m.input.pad };
  const bytes = m.input.width * m.input.height * 3 * ((m.input.dtype ?? 'float32') === 'float32' ? 4 : 1);
  let previous: SharedArrayBuffer | ArrayBuffer | undefined;
  let firstWall = -1;
  let firstPts = 0;
  let failures = 0;
  for (;;) {
    while (t.status === ExecutionStatus.Paused || (ctx.outbox.pending(t.id) > OUTBOX_HIGH_WATER && !t.finished && !ctx.closed)) await new Promise((r) => setTimeout(r, 50));
    if (t.finished || ctx.closed) return;
    const td = performance.now();
    const f = await source.next();
    if (!f) return;
    ctx.metrics.observeStage('decode', performance.now() - td);
    t.framesIn++;
    // Temporal plugins keep the previous frame: shared memory; others move a plain buffer to the worker.
    const input = m.input.previousFrame ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
    let results: Array<Record<string, unknown>>;
    try {
      const tp = performance.now();
      const info = await f.preprocess(spec, new Uint8Array(input));
      ctx.metrics.observeStage('preprocess', performance.now() - tp);
      if (firstWall < 0) { firstWall = ctx.clock.now(); firstPts = f.ptsMs; }
      t.lastPtsMs = f.ptsMs;
      let out: unknown;
      try {
        ctx.metrics.pluginCall(m.AlgID);
        const r = await ctx.pluginBatcher().call(p, { input, previous: m.input.previousFrame ? previous : undefined, ptsMs: f.ptsMs, args: t.algArgs });
        ctx.metrics.observeStage('queue', r.queueMs);
        ctx.metrics.observeStage('inference', r.inferMs);
        ctx.metrics.observeStage('post', r.postMs);
        out = r.output;
      } catch (err) {
        if (!(err instanceof PluginCallError)) throw err;
        ctx.metrics.pluginFailure(m.AlgID, err.reason);
        failures++;
        t.exceptionCode = err.exceptionCode;
        t.exceptionDesc = cutUtf8(`frame at ${Math.round(f.ptsMs)} ms: ${err.message}`, EXCEPTION_DESC_MAX_BYTES);
        ctx.log.warn({ task: t.id, reason: err.reason, err: err.message, failures }, 'plugin call failed; frame skipped');
        ctx.changed(t);
        previous = input;
        continue;
      }
      previous = input;
      results = ((out as { Results?: unknown[] })?.Results ?? []).filter((r): r is Record<string, unknown> => !!r && typeof r === 'object');
      // Boxes come in input-tensor pixels; map them back to the frame.
      const boxes: Array<Record<string, unknown> & { x: number; y: number; w: number; h: number }> = [];
      for (const r of results) {
        const bs = (r.ResultData as { Boxes?: Array<{ x: number; y: number; w: number; h: number }> } | undefined)?.Boxes;
        if (Array.isArray(bs)) for (const b of bs) {
          b.x = Math.max(0, Math.round((b.x - info.padX) / info.scaleX)); b.y = Math.max(0, Math.round((b.y - info.padY) / info.scaleY));
          b.w = Math.max(1, Math.min(f.width - b.x, Math.round(b.w / info.scaleX))); b.h = Math.max(1, Math.min(f.height - b.y, Math.round(b.h / info.scaleY)));
          boxes.push(b as Record<string, unknown> & { x: number; y: number; w: number; h: number });
        }
      }
      if (t.algArgs.Stage === 'detect') {
        // First stage of a split: the crops travel to the next stage as lossless PNG.
        await Promise.all(boxes.slice(0, m.cropStage?.maxCrops ?? 32).map(async (b) => { b.CropData = (await f.png({ x: b.x, y: b.y, width: b.w, height: b.h })).toString('base64'); }));
      } else if (m.cropStage && boxes.length) await cropStage(ctx, t, p, f, boxes.slice(0, m.cropStage.maxCrops ?? 32));
    } finally {
      f.release();
    }
    t.framesOut++;
    emitResult(ctx, t, {
      Ts: firstWall + (f.ptsMs - firstPts), models: m.models,
      TaskResultData: { AnalysisResult: results.map((r) => ({
        ...(typeof r.Type === 'number' ? { Type: r.Type } : {}),
        ...(r.FeatureInfo && typeof r.FeatureInfo === 'object' ? { FeatureInfo: r.FeatureInfo as Record<string, unknown> } : {}),
        ResultData: { ...(r.ResultData as object), Pts: Math.round(f.ptsMs), FrameWidth: f.width, FrameHeight: f.height },
      })) },
    });
  }
}

/** Second stage: crop each box from the frame (natively), run the crop models and the plugin's crop export, merge its answer into the box. */
async function cropStage(ctx: RunContext, t: ExecTask, p: LoadedPlugin, f: SourceFrame, boxes: Array<Record<string, unknown> & { x: number; y: number; w: number; h: number }>): Promise<void> {
  const ci = p.manifest.cropStage!.input;
  const spec = { width: ci.width, height: ci.height, resize: ci.resize, layout: ci.layout, dtype: ci.dtype, channels: ci.channels,
    mean: ci.mean as [number, number, number] | undefined, std: ci.std as [number, number, number] | undefined, scale: ci.scale, pad: ci.pad };
  const bytes = ci.width * ci.height * 3 * ((ci.dtype ?? 'float32') === 'float32' ? 4 : 1);
  await Promise.all(boxes.map(async (b) => {
    const input = new ArrayBuffer(bytes);
    await f.preprocess({ ...spec, crop: { x: b.x, y: b.y, width: b.w, height: b.h } }, new Uint8Array(input));
    try {
      ctx.metrics.pluginCall(p.manifest.AlgID);
      const r = await ctx.pluginPool().call(p, { input, ptsMs: f.ptsMs, args: t.algArgs, stage: 'crop' });
      if (r.output && typeof r.output === 'object') for (const [k, v] of Object.entries(r.output as Record<string, unknown>)) b[k in b ? `Crop${k}` : k] = v;
    } catch (err) {
      if (!(err instanceof PluginCallError)) throw err;
      ctx.metrics.pluginFailure(p.manifest.AlgID, err.reason);
      b.CropError = err.message.slice(0, 200);
    }
  }));
}

