/**
 * One task as the executor holds it (EB6): the dispatch info, its state machine and what it has
 * produced. States follow table 31: queued(3) → running(1) ⇄ paused(2) → done(0) | error(4).
 */
import type { SliceRange } from './media/slice.ts';
import { EXCEPTION_DESC_MAX_BYTES, ExecutionStatus, cutUtf8, parseRetinaDateTime, type TaskDispatchInfo, type TaskStatus } from '../protocol/index.ts';
import type { ProviderUse } from '../plugins/worker-task.ts';
import { providerLabel } from '../plugins/providers.ts';

/** One model of the task in ResourcesOccupied.ExecutionProviders: where it runs and why (EM3). */
export interface ModelPlacement {
  ModelID?: number;
  Model: string;
  /** `cpu`, `cuda:0` … */
  ExecutionProvider: string;
  /** What the package's manifest asked for (resources.accelerator). */
  RequestedAccelerator: string;
  Reason?: string;
}

const TRANSITIONS: Record<number, readonly number[]> = {
  [ExecutionStatus.Queued]: [ExecutionStatus.Running, ExecutionStatus.Done, ExecutionStatus.Error],
  [ExecutionStatus.Running]: [ExecutionStatus.Paused, ExecutionStatus.Done, ExecutionStatus.Error],
  [ExecutionStatus.Paused]: [ExecutionStatus.Running, ExecutionStatus.Done, ExecutionStatus.Error],
  // A finished task can be started again with Control 0.
  [ExecutionStatus.Done]: [ExecutionStatus.Queued],
  [ExecutionStatus.Error]: [ExecutionStatus.Queued],
};

export class ExecTask {
  status: ExecutionStatus = ExecutionStatus.Queued;
  progress = 0;
  exceptionCode?: number;
  exceptionDesc?: string;
  framesOut = 0;
  /** Frames taken from the source (framesOut counts those that produced a result). */
  framesIn = 0;
  /** A downstream stage told to finish: it drains its inbox, then ends. */
  draining = false;
  startedAt?: number;
  endedAt?: number;
  /** Current AlgArgs (Control 4 replaces them). */
  algArgs: Record<string, unknown>;
  /** Source position reached, for a resume (ms). */
  lastPtsMs = -1;
  /**
   * Where the task resumes after the last result a run of this executor before its restart queued
   * for it (source ms, a frame interval past it; -1 none), read from the outbox when the task was
   * restored: a retry here starts no earlier (resume-floor.ts).
   */
  queuedUpToMs = -1;
  /** Frames a file source will give at TaskFrameRate (its duration known), for Progress. */
  expectedFrames?: number;
  /** The part of its file a split subtask reads (SB7, media/slice.ts), once its duration is known. */
  slice?: SliceRange;
  readonly receivedAt = Date.now();
  /** Where the task's models run, from its plugin calls (empty for a task without models). */
  executionProviders: ModelPlacement[] = [];

  /** Mutable only in DstDeviceList: a re-dispatch re-points results when the next stage moved. */
  constructor(public info: TaskDispatchInfo, readonly seq: number) {
    this.algArgs = { ...(info.InputInfo.AlgArgs ?? {}) };
  }

  get id(): string {
    return this.info.TaskID;
  }

  get priority(): number {
    return this.info.Priority ?? 5;
  }

  /** Moves to `next`; throws when table 31's life cycle does not allow it. */
  transition(next: ExecutionStatus, exception?: { code: number; desc: string }): void {
    if (next === this.status) return;
    if (!TRANSITIONS[this.status]?.includes(next)) {
      throw new Error(`task ${this.id}: cannot go from ExecutionStatus ${this.status} to ${next}`);
    }
    this.status = next;
    if (next === ExecutionStatus.Queued) {
      this.exceptionCode = undefined;
      this.exceptionDesc = undefined;
      this.progress = 0;
    }
    if (next === ExecutionStatus.Running && this.startedAt === undefined) this.startedAt = Date.now();
    if (next === ExecutionStatus.Done || next === ExecutionStatus.Error) this.endedAt = Date.now();
    if (next === ExecutionStatus.Done) this.progress = 100;
    if (exception) {
      this.exceptionCode = exception.code;
      this.exceptionDesc = exception.desc;
    }
  }

  /** Takes in a plugin call's providers; true when something changed (worth a status report). */
  noteProviders(uses: readonly ProviderUse[]): boolean {
    let changed = false;
    for (const u of uses) {
      const next: ModelPlacement = { ...(u.ModelID !== undefined ? { ModelID: u.ModelID } : {}), Model: u.model, ExecutionProvider: providerLabel(u), RequestedAccelerator: u.requested ?? 'cpu', ...(u.reason ? { Reason: cutUtf8(u.reason, 512) } : {}) };
      const i = this.executionProviders.findIndex((x) => x.Model === next.Model);
      const prev = this.executionProviders[i];
      if (prev && prev.ExecutionProvider === next.ExecutionProvider && prev.Reason === next.Reason) continue;
      if (i >= 0) this.executionProviders[i] = next;
      else this.executionProviders.push(next);
      changed = true;
    }
    return changed;
  }

  get finished(): boolean {
    return this.status === ExecutionStatus.Done || this.status === ExecutionStatus.Error;
  }

  /**
   * 9.9 Progress while running: frames done over frames expected (a file whose duration is
   * known), else time elapsed over the TimeRange window it runs in (live); 100 only when done.
   */
  currentProgress(now = Date.now()): number {
    if (this.status !== ExecutionStatus.Running) return this.progress;
    if (this.expectedFrames) return Math.min(99, Math.floor((100 * this.framesIn) / this.expectedFrames));
    for (const w of this.info.ExecutionCond?.TimeRange ?? []) {
      const s = w.StartTime ? parseRetinaDateTime(w.StartTime) : NaN;
      const e = w.EndTime ? parseRetinaDateTime(w.EndTime) : NaN;
      if (s <= now && now < e) return Math.min(99, Math.floor((100 * (now - s)) / (e - s)));
    }
    return this.progress;
  }

  /** Table 31 <TaskStatus>. */
  toStatus(): TaskStatus {
    const s: TaskStatus = {
      TaskID: this.info.TaskID,
      ExecutionStatus: this.status,
      Progress: this.currentProgress(),
      ResourcesOccupied: {
        FramesOut: this.framesOut, RunMs: this.startedAt ? (this.endedAt ?? Date.now()) - this.startedAt : 0,
        ...(this.executionProviders.length ? { ExecutionProviders: this.executionProviders } : {}),
      },
    };
    if (this.info.ParentTaskID) s.ParentTaskID = this.info.ParentTaskID;
    if (this.info.TaskName) s.TaskName = this.info.TaskName;
    if (this.info.TaskType !== undefined) s.TaskType = this.info.TaskType;
    if (this.exceptionCode !== undefined) s.ExceptionCode = this.exceptionCode;
    if (this.exceptionDesc) s.ExceptionDesc = cutUtf8(this.exceptionDesc, EXCEPTION_DESC_MAX_BYTES);
    return s;
  }
}
