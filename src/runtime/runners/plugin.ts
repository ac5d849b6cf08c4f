/**
 * A plugin task: each sampled frame is preprocessed by the native core, run through the plugin in
 * the sandbox pool, and its results sent as AnalysisResult; a crop stage runs per box.
 */
import { EXCEPTION_DESC_MAX_BYTES, cutUtf8 } from '../../protocol/index.ts';
import type { ExecTask } from '../exec-task.ts';
import type { FrameSource, SourceFrame } from '../media/frame-source.ts';
import type { PreprocessInfo } from '../media/native.ts';
import { PluginCallError, type CallResult } from '../../plugins/pool.ts';
import type { LoadedPlugin } from '../../plugins/registry.ts';
import type { RunContext } from './context.ts';
import { admit } from './admit.ts';
import { emitResult, frameTs } from './emit.ts';
import { mineHardExamples } from './hard-examples.ts';
import { feedbackSetArg, keepForFeedback } from './feedback.ts';
import { featureSetArg, fileFeatures } from './feature-set.ts';
import { preparedInput, type PreparedInput } from './input-spec.ts';

/**
 * A plugin task: each sampled frame is preprocessed by the native core into a buffer handed to
 * the worker without a copy, run through the plugin, and its results sent as AnalysisResult. A
 * failed call costs that frame only (ExceptionCode 50).
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

/** Classes of the frame model's first output (its last dimension), for samples filed by class; 256 when unknown. */
function classCount(m: LoadedPlugin['manifest']): number {
  const last = m.models?.find((x) => x.stage !== 'crop')?.outputs[0]?.shape.at(-1);
  return typeof last === 'number' && last >= 2 && last <= 256 ? last : 256;
}

/** A frame on its way: decoded, preprocessed, its plugin call started. */
interface Started {
  f: SourceFrame;
  info: PreprocessInfo;
  call: Promise<CallResult>;
}

/** Input buffers kept for reuse (the worker moves each back after its call); two frames are in flight at most. */
const SPARE_BUFFERS = 2;

/**
 * The frame loop, two stages deep: while the plugin runs frame n, frame n+1 is decoded,
 * preprocessed and handed to the pool (one ahead, no more); results are emitted in frame order.
 * A frame started when the task stops is released without a result.
 */
async function pluginFrames(ctx: RunContext, t: ExecTask, source: FrameSource, p: LoadedPlugin): Promise<void> {
  const m = p.manifest;
  featureSetArg(t.algArgs); // a bad FeatureSet fails the task before its first frame
  // Checked once per task: every frame (and crop) is preprocessed with it as it is.
  const frame = preparedInput(m.input);
  const crop = m.cropStage ? preparedInput(m.cropStage.input) : undefined;
  const temporal = !!m.input.previousFrame;
  feedbackSetArg(t.algArgs); // a bad FeedbackSet fails the task before its first frame
  // Temporal plugins keep the previous frame: shared memory; others move a plain buffer to the
  // worker, which moves it back after the call for a later frame.
  const spare: ArrayBuffer[] = [];
  let previous: SharedArrayBuffer | undefined;
  let firstWall = -1;
  let firstPts = 0;
  let failures = 0;

  /** Decodes and preprocesses the next frame and starts its plugin call; null at the end of the source or when the task stops. */
  const start = async (): Promise<Started | null> => {
    if (!(await admit(ctx, t))) return null;
    const td = performance.now();
    const f = await source.next();
    if (!f) return null;
    ctx.metrics.observeStage('decode', performance.now() - td);
    // A frame that arrives after a pause is held until the resume, not run: a paused task
    // produces nothing new once ExecutionStatus 2 is visible.
    if (!(await admit(ctx, t))) { f.release(); return null; }
    t.framesIn++;
    const input = temporal ? new SharedArrayBuffer(frame.bytes) : (spare.pop() ?? new ArrayBuffer(frame.bytes));
    let info: PreprocessInfo;
    try {
      const tp = performance.now();
      info = await f.preprocess(frame.spec, new Uint8Array(input));
      ctx.metrics.observeStage('preprocess', performance.now() - tp);
    } catch (err) {
      f.release();
      throw err;
    }
    if (firstWall < 0) { firstWall = ctx.clock.now(); firstPts = f.ptsMs; }
    t.lastPtsMs = f.ptsMs;
    ctx.metrics.pluginCall(m.AlgID);
    const call = ctx.pluginBatcher().call(p, { input, previous: temporal ? previous : undefined, ptsMs: f.ptsMs, args: t.algArgs });
    call.catch(() => undefined); // awaited (and its failure handled) in finish; not unhandled meanwhile
    if (temporal) previous = input as SharedArrayBuffer;
    return { f, info, call };
  };

  /** Waits for the frame's call, maps its boxes, runs the crop stage, releases the frame and emits the result. */
  const finish = async ({ f, info, call }: Started): Promise<void> => {
    let results: Array<Record<string, unknown>>;
    try {
      let r: CallResult;
      try {
        r = await call;
      } catch (err) {
        if (!(err instanceof PluginCallError)) throw err;
        ctx.metrics.pluginFailure(m.AlgID, err.reason);
        failures++;
        t.exceptionCode = err.exceptionCode;
        t.exceptionDesc = cutUtf8(`frame at ${Math.round(f.ptsMs)} ms: ${err.message}`, EXCEPTION_DESC_MAX_BYTES);
        ctx.log.warn({ task: t.id, reason: err.reason, err: err.message, failures }, 'plugin call failed; frame skipped');
        ctx.changed(t);
        return;
      }
      if (t.noteProviders(r.providers)) ctx.changed(t);
      ctx.metrics.observeStage('queue', r.queueMs);
      ctx.metrics.observeStage('inference', r.inferMs);
      ctx.metrics.observeStage('post', r.postMs);
      results = ((r.output as { Results?: unknown[] })?.Results ?? []).filter((x): x is Record<string, unknown> => !!x && typeof x === 'object');
      mineHardExamples(ctx, t, frame, r.input, results, classCount(m));
      keepForFeedback(ctx, t, frame, f.ptsMs, r.input, results, classCount(m));
      fileFeatures(ctx, t, results);
      if (r.input?.byteLength === frame.bytes && spare.length < SPARE_BUFFERS) spare.push(r.input);
      // Boxes come in input-tensor pixels; map them back to the frame.
      const boxes: Box[] = [];
      for (const x of results) {
        const bs = (x.ResultData as { Boxes?: Array<{ x: number; y: number; w: number; h: number }> } | undefined)?.Boxes;
        if (Array.isArray(bs)) for (const b of bs) {
          b.x = Math.max(0, Math.round((b.x - info.padX) / info.scaleX)); b.y = Math.max(0, Math.round((b.y - info.padY) / info.scaleY));
          b.w = Math.max(1, Math.min(f.width - b.x, Math.round(b.w / info.scaleX))); b.h = Math.max(1, Math.min(f.height - b.y, Math.round(b.h / info.scaleY)));
          boxes.push(b as Box);
        }
      }
      if (t.algArgs.Stage === 'detect') {
        // First stage of a split: the crops travel to the next stage as lossless PNG.
        await Promise.all(boxes.slice(0, m.cropStage?.maxCrops ?? 32).map(async (b) => { b.CropData = (await f.png({ x: b.x, y: b.y, width: b.w, height: b.h })).toString('base64'); }));
      } else if (crop && boxes.length) await cropStage(ctx, t, p, crop, f, boxes.slice(0, m.cropStage!.maxCrops ?? 32));
    } finally {
      f.release();
    }
    t.framesOut++;
    emitResult(ctx, t, {
      Ts: frameTs(t, f.ptsMs, firstWall, firstPts), models: m.models,
      TaskResultData: { AnalysisResult: results.map((x) => ({
        ...(typeof x.Type === 'number' ? { Type: x.Type } : {}),
        ...(x.FeatureInfo && typeof x.FeatureInfo === 'object' ? { FeatureInfo: x.FeatureInfo as Record<string, unknown> } : {}),
        ResultData: { ...(x.ResultData as object), Pts: Math.round(f.ptsMs), FrameWidth: f.width, FrameHeight: f.height },
      })) },
    });
  };

  let next = start();
  next.catch(() => undefined);
  try {
    for (;;) {
      const cur = await next;
      if (!cur) return;
      // Stopped while this frame was on its way: at most the frame in the plugin at the stop gave a result.
      if (t.finished || ctx.closed) {
        cur.f.release();
        next = Promise.resolve(null);
        return;
      }
      // One ahead: the next frame is decoded, preprocessed and queued while this one is in the plugin.
      next = start();
      next.catch(() => undefined);
      await finish(cur);
    }
  } finally {
    // A frame started but not finished (the task stopped, or an error ended the loop) is released; its result is dropped.
    const left = await next.catch(() => null);
    left?.f.release();
  }
}

type Box = Record<string, unknown> & { x: number; y: number; w: number; h: number };

/** Second stage: crop each box from the frame (natively), run the crop models and the plugin's crop export, merge its answer into the box. */
async function cropStage(ctx: RunContext, t: ExecTask, p: LoadedPlugin, crop: PreparedInput, f: SourceFrame, boxes: Box[]): Promise<void> {
  await Promise.all(boxes.map(async (b) => {
    const input = new ArrayBuffer(crop.bytes);
    await f.preprocess(crop.spec, new Uint8Array(input), { x: b.x, y: b.y, width: b.w, height: b.h });
    try {
      ctx.metrics.pluginCall(p.manifest.AlgID);
      const r = await ctx.pluginPool().call(p, { input, ptsMs: f.ptsMs, args: t.algArgs, stage: 'crop' });
      if (t.noteProviders(r.providers)) ctx.changed(t);
      if (r.output && typeof r.output === 'object') for (const [k, v] of Object.entries(r.output as Record<string, unknown>)) b[k in b ? `Crop${k}` : k] = v;
    } catch (err) {
      if (!(err instanceof PluginCallError)) throw err;
      ctx.metrics.pluginFailure(p.manifest.AlgID, err.reason);
      b.CropError = err.message.slice(0, 200);
    }
  }));
}
