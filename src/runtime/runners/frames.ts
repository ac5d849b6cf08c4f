/** Frame extraction (TaskType 1): sampled frames as JPEG ImageResults. */
import type { ExecTask } from '../exec-task.ts';
import type { FrameSource } from '../media/frame-source.ts';
import type { RunContext } from './context.ts';
import { admit } from './admit.ts';
import { emitResult, frameTs } from './emit.ts';

/** The frame loop of one task: honours pause, and waits while its results back up in the outbox. */
export async function runFrames(ctx: RunContext, t: ExecTask, source: FrameSource): Promise<void> {
  let firstWall = -1;
  let firstPts = 0;
  for (;;) {
    if (!(await admit(ctx, t))) return;
    const f = await source.next();
    if (!f) return;
    // A frame that arrives after a pause is held until the resume, not emitted.
    if (!(await admit(ctx, t))) { f.release(); return; }
    t.framesIn++;
    try {
      if (firstWall < 0) { firstWall = ctx.clock.now(); firstPts = f.ptsMs; }
      const jpeg = await f.jpeg(Number(t.algArgs.JpegQuality ?? 90));
      t.framesOut++;
      t.lastPtsMs = f.ptsMs;
      const ts = frameTs(t, f.ptsMs, firstWall, firstPts);
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

