/**
 * Where a moved subtask resumes (SB12), from the last result of it: the scheduler's from the last
 * one it stored (both stores, SQLite and etcd), an executor's from the last one it queued. One
 * function for all three so they cannot drift apart.
 */
import type { TaskResultBody } from './task-result.ts';

/**
 * In source milliseconds: after the last frame (a frame interval of `frameMs` past its Pts, for
 * images and analysis results) or at the end of the last video slice. Null when the result
 * carries no position.
 */
export function resumePointMs(body: TaskResultBody, frameMs: number): number | null {
  const data = body.TaskResultData;
  const img = (data.ImageResult as { ImageInfo?: { Pts?: unknown } } | undefined)?.ImageInfo?.Pts;
  if (typeof img === 'number') return Math.round(img + frameMs);
  const slice = (data.VideoResult as { VideoSliceInfo?: { StartMs?: unknown; DurationMs?: unknown } } | undefined)?.VideoSliceInfo;
  if (typeof slice?.StartMs === 'number' && typeof slice.DurationMs === 'number') return Math.round(slice.StartMs + slice.DurationMs);
  const pts = (data.AnalysisResult ?? []).map((a) => (a.ResultData as { Pts?: unknown } | undefined)?.Pts).filter((x): x is number => typeof x === 'number');
  return pts.length ? Math.round(Math.max(...pts) + frameMs) : null;
}

/**
 * The interval between the frames a task samples (ms), for a resume after its last one: at
 * TaskFrameRate `fps` (1 where a dispatch gives none); 1 ms when it takes every frame (0).
 */
export function frameIntervalMs(fps: number | undefined): number {
  const rate = fps ?? 1;
  return rate > 0 ? 1000 / rate : 1;
}
