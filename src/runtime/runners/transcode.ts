/** Transcoding (TaskType 3): slices as VideoResults. */
import { ExecutionStatus } from '../../protocol/index.ts';
import type { ExecTask } from '../exec-task.ts';
import type { FrameSource } from '../media/frame-source.ts';
import { openTranscoder, transcodeOptionsFromArgs, type SliceSource } from '../media/transcode.ts';
import type { RunContext, Started } from './context.ts';
import { emitResult } from './emit.ts';

/** Transcoding (TaskType 3): every completed slice becomes a VideoResult. */
export function startTranscode(ctx: RunContext, t: ExecTask, httpProxy?: string): Started {
  const opts = { ...transcodeOptionsFromArgs(t.info.InputInfo.StreamURL!, t.algArgs), ...(httpProxy ? { httpProxy } : {}) };
  const tc: SliceSource = openTranscoder(opts, ctx.decoder ?? 'auto');
  const handle: FrameSource = { backend: tc.backend, next: async () => null, close: () => tc.close(), stats: () => ({ backend: tc.backend, decode: 'software', codec: '', width: 0, height: 0, framesSampled: 0, framesDecoded: 0, reconnects: 0, sourceFps: 0 }) };
  const loop = async () => {
    const t0 = ctx.clock.now();
    for (;;) {
      while (t.status === ExecutionStatus.Paused) await new Promise((r) => setTimeout(r, 50));
      if (t.finished || ctx.closed) return;
      const slice = await tc.next();
      if (!slice) return;
      t.framesOut++;
      t.lastPtsMs = slice.startMs + slice.durationMs;
      emitResult(ctx, t, {
        Ts: t0 + slice.startMs - (opts.startMs ?? 0),
        TaskResultData: { VideoResult: { VideoSliceData: slice.data.toString('base64'), VideoSliceInfo: {
          Index: slice.index, StartMs: slice.startMs, DurationMs: slice.durationMs, Codec: opts.codec, BitrateKbps: opts.bitrateKbps,
          ...(opts.width ? { Width: opts.width, Height: opts.height } : {}), Container: 'mp4', SizeBytes: slice.data.length, SourceURL: t.info.InputInfo.StreamURL,
        } } },
      });
    }
  };
  return { handle, done: loop() };
}

