/**
 * Where a moved subtask resumes (SB12), from the last result stored for it. One function for
 * both stores (SQLite and etcd) so they cannot drift apart.
 */
import type { TaskResultBody } from '../protocol/index.ts';

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
