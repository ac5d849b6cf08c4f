/**
 * The one place a runner's output becomes a table 26 TaskResult: the fields every result
 * carries (who sent it, for which task and algorithm, where it goes next, when and where it was
 * made), queued in the outbox for the task's destinations as a `task_result` command.
 */
import { CommandType, type TaskResultBody } from '../../protocol/index.ts';
import type { ExecTask } from '../exec-task.ts';
import type { RunContext } from './context.ts';

/** What a runner knows of one result; the rest of the body comes from the task and the executor. */
export interface ResultPart {
  /** Capture time of the frame or slice, ms on the corrected clock. */
  Ts: number;
  TaskResultData: TaskResultBody['TaskResultData'];
  /** The models that produced it (a plugin's manifest). */
  models?: ReadonlyArray<{ ModelID: number; ModelVersion: string }>;
}

/** Table 26 body for `part` of task `t`. */
export function resultBody(ctx: RunContext, t: ExecTask, part: ResultPart): TaskResultBody {
  const body: TaskResultBody = {
    TaskID: t.id,
    DeviceID: ctx.deviceId,
    DstDeviceList: t.info.DstDeviceList.filter((d) => d.DeviceID).map((d) => ({ DeviceID: d.DeviceID! })),
    AlgID: t.info.AlgModelInfo.AlgID,
    AlgVersion: t.info.AlgModelInfo.AlgVersion,
    ...(part.models?.length ? { ModelList: part.models.map((m) => ({ ModelID: m.ModelID, ModelVersion: m.ModelVersion })) } : {}),
    Ts: Math.round(part.Ts),
    CreateTime: ctx.clock.nowDateTime(),
    TaskResultData: part.TaskResultData,
  };
  if (t.info.ParentTaskID) body.ParentTaskID = t.info.ParentTaskID;
  if (ctx.longitude) body.Longitude = ctx.longitude;
  if (ctx.latitude) body.Latitude = ctx.latitude;
  return body;
}

/** Builds the result and queues it (on disk before this returns) for every destination of the task. */
export function emitResult(ctx: RunContext, t: ExecTask, part: ResultPart): void {
  const body = resultBody(ctx, t, part);
  ctx.outbox.enqueue(ctx.destinations(t.info), t.id, { method: 'POST', path: '/System/Command', body: { CommandType: CommandType.TaskResult, DeviceID: ctx.deviceId, MessageBody: body } });
}

/**
 * Ts of a frame: when it was captured, on the corrected clock — the first frame's arrival plus
 * media time since. A part of a split file (SB7) counts from the origin all its parts share
 * (`TsOriginMs`, the scheduler's), so the parts' results keep the order of one reading.
 */
export function frameTs(t: ExecTask, ptsMs: number, firstWall: number, firstPts: number): number {
  const origin = t.algArgs.TsOriginMs;
  return typeof origin === 'number' && Number.isFinite(origin) ? origin + ptsMs : firstWall + (ptsMs - firstPts);
}
