/**
 * One file split over executors (M2, SB7): a subtask whose host AlgArgs carry
 * `Slice: { Index, Count }` reads only the Index-th of Count consecutive time slices of its file.
 * The executor cuts them itself (it can read the file's duration; the scheduler cannot), at
 * sampling instants of TaskFrameRate, so every part agrees where the others end and each sampled
 * frame falls in exactly one part: part k starts where part k-1 stops.
 */
import type { FrameSource } from './frame-source.ts';
import { MediaError } from './media-error.ts';
import { probeDurationMs } from './duration.ts';
import { frameIntervalMs } from '../../protocol/index.ts';

/** The part a task reads: from `startMs` (inclusive) to `endMs` (exclusive; Infinity for the last). */
export interface SliceRange {
  startMs: number;
  endMs: number;
}

/** The `Slice` host argument, or undefined when absent or not a valid part. */
export function sliceArg(args: Record<string, unknown>): { index: number; count: number } | undefined {
  const s = args.Slice as { Index?: unknown; Count?: unknown } | undefined;
  if (!s || typeof s !== 'object' || !Number.isInteger(s.Index) || !Number.isInteger(s.Count)) return undefined;
  const index = s.Index as number;
  const count = s.Count as number;
  return count > 1 && index >= 0 && index < count ? { index, count } : undefined;
}

/** Where part `index` of `count` of `url` starts and ends, cut at multiples of the sampling interval. */
export async function resolveSlice(url: string, slice: { index: number; count: number }, fps: number): Promise<SliceRange> {
  const durationMs = await probeDurationMs(url);
  if (durationMs === undefined) throw new MediaError('source', `InputInfo.AlgArgs.Slice: the duration of ${url} is unknown, so it cannot be split into ${slice.count} parts`);
  const step = frameIntervalMs(fps);
  const edge = (k: number) => (k >= slice.count ? Infinity : Math.round((durationMs * k) / slice.count / step) * step);
  return { startMs: edge(slice.index), endMs: edge(slice.index + 1) };
}

/**
 * `source` ending before `endMs`: a frame sampled for the instant at `endMs` or later (within
 * half a sampling interval, as the decoders pick frames) is the next part's, so this one ends.
 */
export function endAt(source: FrameSource, endMs: number, halfStepMs: number): FrameSource {
  return {
    backend: source.backend,
    async next() {
      const f = await source.next();
      if (f && f.ptsMs + halfStepMs >= endMs) {
        f.release();
        source.close();
        return null;
      }
      return f;
    },
    close: () => source.close(),
    stats: () => source.stats(),
  };
}
