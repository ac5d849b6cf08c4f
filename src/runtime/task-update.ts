/**
 * SB2, updating a deployed task in place: a task_dispatch naming a task that runs here with the
 * same input and dependencies but another algorithm version or other arguments of the plugin's
 * own is an update, not a new task nor a re-dispatch. The task switches at a frame boundary:
 * the frame in flight finishes on the old version, the run stops, and it starts again on the new
 * version — a file source after the last frame analysed, a live one from now — keeping its
 * TaskID, its counters and its undelivered results. An update the executor cannot take (a
 * version it cannot install, arguments the plugin refuses) is refused and the old one runs on.
 */
import type { TaskDispatchInfo } from '../protocol/index.ts';

/**
 * AlgArgs the host consumes itself: StartOffsetMs (where to start reading, set on a resume), Retry
 * (which attempt failed where, set on a retry: resume-floor.ts), Stage
 * (detect/recognize in a topology), ReplayFromMs (a re-point's replay), Slice and TsOriginMs (a
 * part of a split file, SB7: media/slice.ts), and the learning loop's
 * (docs/PLUGINS.md "Training ABI"): ModelUpdate, CoEvolve, HardExampleThreshold, HardExampleSet, LabelSet, FeatureSet, Federated,
 * Restart, ValidationURL, MinAccuracy, FeedbackSet, Objective. Not the plugin's (its AlgArgs schema never sees them), and
 * never an update by themselves.
 */
export const HOST_ALG_ARGS: ReadonlySet<string> = new Set(['StartOffsetMs', 'Retry', 'Stage', 'ReplayFromMs', 'Slice', 'TsOriginMs',
  'ModelUpdate', 'CoEvolve', 'HardExampleThreshold', 'HardExampleSet', 'LabelSet', 'FeatureSet', 'Federated', 'Restart', 'ValidationURL', 'MinAccuracy', 'FeedbackSet', 'Objective']);

/** The plugin's own arguments of a dispatch (host ones left out), as canonical JSON. */
function ownArgs(t: TaskDispatchInfo): string {
  const a = t.InputInfo.AlgArgs ?? {};
  return JSON.stringify(Object.keys(a).filter((k) => !HOST_ALG_ARGS.has(k)).sort().map((k) => [k, a[k]]));
}

/** True when `next` updates the task `current` describes (same input, other version or own arguments). */
export function isUpdate(current: TaskDispatchInfo, next: TaskDispatchInfo): boolean {
  if ((current.InputInfo.StreamURL ?? '') !== (next.InputInfo.StreamURL ?? '')) return false;
  if (JSON.stringify(current.Dependencies ?? []) !== JSON.stringify(next.Dependencies ?? [])) return false;
  if (current.AlgModelInfo.AlgID !== next.AlgModelInfo.AlgID) return false;
  return current.AlgModelInfo.AlgVersion !== next.AlgModelInfo.AlgVersion || ownArgs(current) !== ownArgs(next);
}

/** A file source resumes after what it analysed; a live one cannot seek and goes on from now. */
export function resumesFrom(url: string | undefined): 'position' | 'now' {
  return url && (/^file:/i.test(url) || !/^[a-z][a-z0-9+.-]*:/i.test(url)) ? 'position' : 'now';
}
