/**
 * SB12 on the executor's side: a retry of a subtask that failed here resumes after the last result
 * this executor queued for it, when that is past where the scheduler asked it to resume. The
 * scheduler reads the position from the results it has stored; the results the failed run still
 * had in its outbox arrive later (a restarted executor delivers its outbox at once, before the
 * retry reaches it). Starting at the scheduler's position would analyse and store those frames
 * twice; starting after them loses none, as the outbox delivers them.
 */
import { ExecutionStatus, frameIntervalMs, type TaskDispatchInfo } from '../protocol/index.ts';
import type { ExecTask } from './exec-task.ts';

/** AlgArgs.Retry, which the scheduler puts in a failed subtask's next dispatch (a host argument). */
export interface RetryArg {
  /** The placement this dispatch is, counting from 1. */
  Attempt: number;
  /** The executor the failed attempt ran on. */
  DeviceID: string;
}

function retryArg(info: TaskDispatchInfo): RetryArg | undefined {
  const r = info.InputInfo.AlgArgs?.Retry as Partial<RetryArg> | undefined;
  return r && typeof r === 'object' && typeof r.DeviceID === 'string' && typeof r.Attempt === 'number' ? r as RetryArg : undefined;
}

/**
 * Where a retry of `t` starts (source ms): a frame interval past its last queued result or frame
 * (the next sample; 1 ms past would take the same frame again), or where it started itself.
 */
export function reachedMs(t: ExecTask): number {
  const start = t.algArgs.StartOffsetMs;
  const next = t.lastPtsMs >= 0 ? Math.round(t.lastPtsMs + frameIntervalMs(t.info.InputInfo.TaskFrameRate)) : -1;
  return Math.max(t.queuedUpToMs, next, typeof start === 'number' && Number.isFinite(start) ? start : -1);
}

/**
 * `info` moved to start past what `failed` (this executor's copy of the subtask) already queued,
 * when `info` retries the attempt that failed on this executor, on the same input, resuming by
 * position (the scheduler set its StartOffsetMs). Otherwise `info` as it is: a copy left from
 * another placement (the retry's failed attempt ran elsewhere) says nothing of what this retry's
 * predecessor delivered.
 */
export function resumedPastOwn(failed: ExecTask | undefined, info: TaskDispatchInfo, deviceId: string): TaskDispatchInfo {
  if (failed?.status !== ExecutionStatus.Error || retryArg(info)?.DeviceID !== deviceId) return info;
  const asked = info.InputInfo.AlgArgs?.StartOffsetMs;
  if (typeof asked !== 'number' || !info.InputInfo.StreamURL || info.InputInfo.StreamURL !== failed.info.InputInfo.StreamURL) return info;
  const from = reachedMs(failed);
  if (from <= asked) return info;
  return { ...info, InputInfo: { ...info.InputInfo, AlgArgs: { ...info.InputInfo.AlgArgs, StartOffsetMs: from } } };
}
