/** A stage fed by another task's results (EB4): crops decoded natively, run through the crop stage. */
import type { TaskResultBody } from '../../protocol/index.ts';
import type { ExecTask } from '../exec-task.ts';
import type { FrameSource } from '../media/frame-source.ts';
import { decodeImage } from '../media/image-codec.ts';
import { PluginCallError } from '../../plugins/pool.ts';
import type { LoadedPlugin } from '../../plugins/registry.ts';
import type { RunContext, Started } from './context.ts';
import { emitResult } from './emit.ts';
import { placeByTs } from '../fusion-order.ts';
import { preparedInput, type PreparedInput } from './input-spec.ts';

/**
 * A stage that works on another task's results (EB4, M2): the upstream stage sends its boxes
 * with the crops as PNG (CropData); each crop is decoded (FFmpeg or sharp) and run through the
 * plugin's crop stage, and the result goes on with the upstream frame's time stamps. A stop
 * (sent when the upstream stage is done) lets it finish what has arrived first.
 */
export function startDownstream(ctx: RunContext, t: ExecTask, p: LoadedPlugin): Started & { inbox: (b: TaskResultBody) => void } {
  const inbox: TaskResultBody[] = [];
  let wake: (() => void) | null = null;
  const handle: FrameSource = {
    backend: 'native', next: async () => null, stats: () => ({ backend: 'native', decode: 'upstream', codec: '', width: 0, height: 0, framesSampled: 0, framesDecoded: 0, reconnects: 0, sourceFps: 0 }),
    close: () => { t.draining = true; wake?.(); },
  };
  // B6: a late result (a replay after a migration) is placed by Ts among what waits, not appended.
  const deliver = (b: TaskResultBody) => { placeByTs(inbox, b); wake?.(); };
  // The crop stage's input, checked once (on the first crop) for the whole task.
  let cropInput: PreparedInput | undefined;
  const loop = async () => {
    for (;;) {
      while (!inbox.length && !t.draining && !ctx.closed) await new Promise<void>((r) => { wake = r; setTimeout(r, 1000).unref(); });
      wake = null;
      const b = inbox.shift();
      if (!b) return; // drained after a stop
      t.framesIn++;
      const results = b.TaskResultData.AnalysisResult ?? [];
      for (const r of results) {
        const boxes = ((r.ResultData ?? {}) as { Boxes?: Array<Record<string, unknown>> }).Boxes ?? [];
        await Promise.all(boxes.map(async (box) => {
          if (typeof box.CropData !== 'string') return;
          const img = Buffer.from(box.CropData, 'base64');
          delete box.CropData;
          const frame = await decodeImage(img).catch((err: Error) => { box.CropError = err.message; return null; });
          if (!frame) return;
          let input: ArrayBuffer;
          try {
            cropInput ??= preparedInput(p.manifest.cropStage!.input);
            input = new ArrayBuffer(cropInput.bytes);
            await frame.preprocess(cropInput.spec, input);
          } finally {
            frame.release();
          }
          try {
            const out = await ctx.pluginPool().call(p, { input, ptsMs: Number((r.ResultData as { Pts?: number } | undefined)?.Pts ?? 0), args: t.algArgs, stage: 'crop' });
            if (t.noteProviders(out.providers)) ctx.changed(t);
            if (out.output && typeof out.output === 'object') for (const [k, v] of Object.entries(out.output as Record<string, unknown>)) box[k in box ? `Crop${k}` : k] = v;
          } catch (err) {
            if (!(err instanceof PluginCallError)) throw err;
            box.CropError = err.message.slice(0, 200);
          }
        }));
      }
      t.framesOut++;
      // The upstream frame's capture time goes on with what this stage adds to its results.
      emitResult(ctx, t, { Ts: b.Ts, TaskResultData: b.TaskResultData, models: p.manifest.models });
    }
  };
  return { handle, inbox: deliver, done: loop() };
}

