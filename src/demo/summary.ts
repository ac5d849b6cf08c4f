/**
 * What the demo found, as plain data: where each stage ran, the texts read with their times,
 * motion events and per-task timings. The console report, the page and the test all read this
 * (it is also written as `summary.json`), so they cannot disagree.
 */
import type { Box, DemoTaskKey, TaskRun } from './tasks.ts';
import { resultData, STATUS_NAME } from './tasks.ts';

export interface StagePlacement {
  task: string;
  taskId: string;
  /** The Topology stage's name, or '' for a task of one stage. */
  stage: string;
  deviceId: string;
  deviceType: string;
  status: string;
}

export interface TaskSummary {
  key: DemoTaskKey;
  title: string;
  taskId: string;
  status: string;
  results: number;
  /** Submitted → done, seconds. */
  seconds: number;
  /** The failure the scheduler reported, when not done. */
  failure?: string;
}

export interface TextSeen {
  text: string;
  /** Every frame time (ms) at which it was read. */
  pts: number[];
  /** The executor that reported it (the recognising stage). */
  deviceId: string;
  meanScore: number;
}

export interface MotionEvent {
  fromMs: number;
  toMs: number;
  /** Most regions seen in one frame of the event. */
  maxRegions: number;
  /** Largest changed share of the picture, %. */
  maxChangedPct: number;
}

/** The boxes found on one sampled frame, for drawing. */
export interface FrameView {
  pts: number;
  /** File name under the output folder (frames/…jpg). */
  file: string;
  width: number;
  height: number;
  text: Box[];
  motion: Box[];
}

export interface DemoSummary {
  /** The user's clip (absolute), or the generated one relative to the output folder. */
  clip: string;
  nodes: Array<{ role: string; id: string; deviceType?: string; url: string; pid: number }>;
  published: Array<{ file: string; algFileUrl: string }>;
  tasks: TaskSummary[];
  placements: StagePlacement[];
  texts: TextSeen[];
  motion: MotionEvent[];
  frames: FrameView[];
  totalSeconds: number;
  ok: boolean;
  /** Pids of started processes that had not exited when the demo finished (should be none). */
  stillRunning: number[];
}

const stageName = (parentId: string, subId: string): string => {
  // Topology subtasks are `<TaskID>.<n>.<Name>`, plain ones `<TaskID>.<n>`.
  const rest = subId.startsWith(parentId + '.') ? subId.slice(parentId.length + 1) : subId;
  return rest.split('.').slice(1).join('.');
};

export function placements(runs: TaskRun[]): StagePlacement[] {
  return runs.flatMap((r) => (r.info.SubtaskInfoList ?? []).map((s) => ({
    task: r.spec.title, taskId: r.taskId, stage: stageName(r.taskId, s.TaskDispatchInfo.TaskID),
    deviceId: s.TaskExecutor.DeviceID, deviceType: s.TaskExecutor.DeviceType ?? '', status: STATUS_NAME[s.TaskStatusInfo.ExecutionStatus] ?? '?',
  })));
}

export function taskSummaries(runs: TaskRun[]): TaskSummary[] {
  return runs.map((r) => {
    const status = STATUS_NAME[r.info.ExecutionStatus] ?? '?';
    const failed = (r.info.SubtaskInfoList ?? []).find((s) => s.TaskStatusInfo.ExecutionStatus === 4);
    return {
      key: r.spec.key, title: r.spec.title, taskId: r.taskId, status, results: r.results.length, seconds: (r.doneAt - r.submittedAt) / 1000,
      ...(failed ? { failure: `${failed.TaskExecutor.DeviceID}: ${failed.TaskStatusInfo.ExceptionCode ?? ''} ${failed.TaskStatusInfo.ExceptionDesc ?? ''}`.trim() } : {}),
    };
  });
}

/** Recognised texts, grouped by their string, with every Pts they were read at. */
export function textsSeen(run: TaskRun | undefined): TextSeen[] {
  const by = new Map<string, { pts: number[]; deviceId: string; scores: number[] }>();
  for (const r of run?.results ?? []) {
    const d = resultData(r);
    for (const b of d.Boxes ?? []) {
      const text = (b.Text ?? '').trim();
      if (!text) continue;
      const e = by.get(text) ?? { pts: [], deviceId: r.DeviceID, scores: [] };
      if (d.Pts !== undefined && !e.pts.includes(d.Pts)) e.pts.push(d.Pts);
      e.scores.push(b.Score ?? 0);
      by.set(text, e);
    }
  }
  return [...by].map(([text, e]) => ({ text, pts: e.pts.sort((a, b) => a - b), deviceId: e.deviceId, meanScore: e.scores.reduce((a, b) => a + b, 0) / e.scores.length }))
    .sort((a, b) => (a.pts[0] ?? 0) - (b.pts[0] ?? 0) || b.pts.length - a.pts.length);
}

/** Runs of consecutive frames with motion, merged into events. */
export function motionEvents(run: TaskRun | undefined): MotionEvent[] {
  const frames = (run?.results ?? []).map(resultData).filter((d) => d.Pts !== undefined).sort((a, b) => a.Pts! - b.Pts!);
  const events: MotionEvent[] = [];
  let cur: MotionEvent | undefined;
  for (const d of frames) {
    if (d.Motion) {
      cur ??= { fromMs: d.Pts!, toMs: d.Pts!, maxRegions: 0, maxChangedPct: 0 };
      cur.toMs = d.Pts!;
      cur.maxRegions = Math.max(cur.maxRegions, d.Boxes?.length ?? 0);
      cur.maxChangedPct = Math.max(cur.maxChangedPct, Math.round((d.ChangedRatio ?? 0) * 1000) / 10);
    } else if (cur) {
      events.push(cur);
      cur = undefined;
    }
  }
  if (cur) events.push(cur);
  return events;
}

/** The result of `run` nearest in time to `pts`, if within `withinMs`. */
function nearest(run: TaskRun | undefined, pts: number, withinMs: number) {
  let best: ReturnType<typeof resultData> | undefined;
  for (const r of run?.results ?? []) {
    const d = resultData(r);
    if (d.Pts === undefined || Math.abs(d.Pts - pts) > withinMs) continue;
    if (!best || Math.abs(d.Pts - pts) < Math.abs(best.Pts! - pts)) best = d;
  }
  return best;
}

/** Up to `max` frames spread over the clip, each with the boxes found at (about) its time. */
export function frameViews(frames: Array<{ pts: number; file: string; width: number; height: number }>, text: TaskRun | undefined, motion: TaskRun | undefined, max = 4): FrameView[] {
  const sorted = [...frames].sort((a, b) => a.pts - b.pts);
  // Skip the first frame when there is a choice: motion detection has no previous frame there.
  const pool = sorted.length > max ? sorted.slice(1) : sorted;
  // i ≤ max - 1, so each index is in 0..pool.length-1 (and max = 1 picks the first, not pool[NaN]).
  const pick = pool.length <= max ? pool : Array.from({ length: max }, (_, i) => pool[Math.round((i * (pool.length - 1)) / Math.max(1, max - 1))]!);
  return pick.map((f) => ({
    ...f,
    text: (nearest(text, f.pts, 500)?.Boxes ?? []).filter((b) => (b.Text ?? '').trim() !== ''),
    motion: nearest(motion, f.pts, 100)?.Boxes ?? [],
  }));
}
