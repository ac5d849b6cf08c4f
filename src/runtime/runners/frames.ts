/** Frame extraction (TaskType 1): sampled frames as JPEG ImageResults. */
import { ExecutionStatus } from '../../protocol/index.ts';
import type { ExecTask } from '../exec-task.ts';
import type { FrameSource } from '../media/frame-source.ts';
import { OUTBOX_HIGH_WATER, type RunContext } from './context.ts';
import { emitResult } from './emit.ts';

/** The frame loop of one task: honours pause, and waits while its results back up in the outbox. */
export async function runFrames(ctx: RunContext, t: ExecTask, source: FrameSource): Promise<void> {
  let firstWall = -1;
  let firstPts = 0;
  for (;;) {
    while (t.status === ExecutionStatus.Paused || (ctx.outbox.pending(t.id) > OUTBOX_HIGH_WATER && !t.finished && !ctx.closed)) {
      await new Promise((r) => setTimeout(r, 50));
    }
    if (t.finished || ctx.closed) return;
    const f = await source.next();
    if (!f) return;
    t.framesIn++;
    try {
      if (firstWall < 0) { firstWall = ctx.clock.now(); firstPts = f.ptsMs; }
      const jpeg = await f.jpeg(Number(t.algArgs.JpegQuality ?? 90));
      t.framesOut++;
      t.lastPtsMs = f.ptsMs;
      // Ts: when the frame was captured, on the corrected clock: first frame's arrival + media time since.
      const ts = firstWall + (f.ptsMs - firstPts);
      emitResult(ctx, t, { Ts: ts, TaskResultData: {
        ImageResult: {
          ImageData: jpeg.toString('base64'),
          ImageInfo: { Width: f.width, Height: f.height, Format: 'JPEG', Pts: Math.round(f.ptsMs), SourceURL: t.info.InputInfo.StreamURL },
        },
      } });
    } finally {
      f.release();
    }
  }
}

