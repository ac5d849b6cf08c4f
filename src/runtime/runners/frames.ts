/** Frame extraction (TaskType 1): sampled frames as JPEG ImageResults. */
import { CommandType, ExecutionStatus, type FilledImageInfo, type TaskResultBody } from '../../protocol/index.ts';
import type { ExecTask } from '../exec-task.ts';
import type { FrameSource } from '../media/frame-source.ts';
import { OUTBOX_HIGH_WATER, type RunContext } from './context.ts';

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
      const body = frameResultBody(ctx, t, ts, { jpeg, ptsMs: Math.round(f.ptsMs), width: f.width, height: f.height });
      ctx.outbox.enqueue(ctx.destinations(t.info), t.id, { method: 'POST', path: '/System/Command', body: { CommandType: CommandType.TaskResult, DeviceID: ctx.deviceId, MessageBody: body } });
    } finally {
      f.release();
    }
  }
}


/** Table 26 body for one frame. */
function frameResultBody(ctx: RunContext, t: ExecTask, ts: number, f: { jpeg: Buffer; ptsMs: number; width: number; height: number }): TaskResultBody {
  const body: TaskResultBody = {
    TaskID: t.id,
    DeviceID: ctx.deviceId,
    DstDeviceList: t.info.DstDeviceList.filter((d) => d.DeviceID).map((d) => ({ DeviceID: d.DeviceID! })),
    AlgID: t.info.AlgModelInfo.AlgID,
    AlgVersion: t.info.AlgModelInfo.AlgVersion,
    Ts: Math.round(ts),
    CreateTime: ctx.clock.nowDateTime(),
    TaskResultData: {
      ImageResult: {
        ImageData: f.jpeg.toString('base64'),
        ImageInfo: { Width: f.width, Height: f.height, Format: 'JPEG', Pts: f.ptsMs, SourceURL: t.info.InputInfo.StreamURL } satisfies FilledImageInfo,
      },
    },
  };
  if (t.info.ParentTaskID) body.ParentTaskID = t.info.ParentTaskID;
  if (ctx.longitude) body.Longitude = ctx.longitude;
  if (ctx.latitude) body.Latitude = ctx.latitude;
  return body;
}

