/**
 * Which queued task runs next and when (B2, SB3, SB4): higher Priority first, then arrival, up
 * to the executor's limit of running tasks; a task with time windows (TaskAttr 1) waits for its
 * next window to open and stops when that window ends. Owns the timers for both.
 */
import { ExecutionStatus, TaskAttr, parseRetinaDateTime } from '../protocol/index.ts';
import type { CorrectedClock } from './clock.ts';
import type { ExecTask } from './exec-task.ts';

export interface TaskQueueOptions {
  /** Tasks running (or paused) at once; more wait queued. */
  maxRunning: number;
  clock: CorrectedClock;
  tasks(): Iterable<ExecTask>;
  /** True once the executor is shutting down: nothing more starts. */
  closed(): boolean;
  /** Starts a task whose turn and window have come. */
  run(t: ExecTask): void;
  /** Persists the task and reports its status. */
  changed(t: ExecTask): void;
}

export class TaskQueue {
  private readonly timers = new Map<string, NodeJS.Timeout[]>();

  constructor(private readonly o: TaskQueueOptions) {}

  /** Starts queued tasks while there is room: higher Priority first, then arrival (B2, SB3). */
  schedule(): void {
    if (this.o.closed()) return;
    const queued = [...this.o.tasks()]
      .filter((t) => t.status === ExecutionStatus.Queued && !this.timers.has(t.id))
      .sort((a, b) => b.priority - a.priority || a.seq - b.seq);
    for (const t of queued) {
      // A task that failed at once ran this again from its end: what it started is not queued any more.
      if (t.status !== ExecutionStatus.Queued || this.timers.has(t.id)) continue;
      if (this.runningCount() >= this.o.maxRunning) break;
      const delay = this.startDelay(t);
      if (delay === null) {
        t.transition(ExecutionStatus.Done);
        t.exceptionDesc = 'time window already over';
        this.o.changed(t);
        continue;
      }
      if (delay > 0) {
        this.addTimer(t.id, setTimeout(() => { this.timers.delete(t.id); this.schedule(); }, delay));
        continue;
      }
      this.o.run(t);
    }
  }

  /** SB5: the limit changed at run time; a raised one starts queued tasks now (a lowered one lets running tasks finish). */
  setMaxRunning(n: number): void {
    this.o.maxRunning = n;
    this.schedule();
  }

  get maxRunning(): number {
    return this.o.maxRunning;
  }

  get running(): number {
    return this.runningCount();
  }

  private runningCount(): number {
    let n = 0;
    for (const t of this.o.tasks()) if (t.status === ExecutionStatus.Running || t.status === ExecutionStatus.Paused) n++;
    return n;
  }

  /** ms until the task's time window opens; 0 now; null when every window is past. */
  private startDelay(t: ExecTask): number | null {
    const windows = t.info.TaskAttr === TaskAttr.TimeWindow ? t.info.ExecutionCond?.TimeRange ?? [] : [];
    if (!windows.length) return 0;
    const now = this.o.clock.now();
    let best: number | null = null;
    for (const w of windows) {
      const s = w.StartTime ? parseRetinaDateTime(w.StartTime) : -Infinity;
      const e = w.EndTime ? parseRetinaDateTime(w.EndTime) : Infinity;
      if (e <= now) continue;
      const d = Math.max(0, s - now);
      best = best === null ? d : Math.min(best, d);
    }
    return best;
  }

  /** Calls `stop` when the running task's time window ends, if it has one. */
  stopAtWindowEnd(t: ExecTask, stop: () => void): void {
    if (t.info.TaskAttr !== TaskAttr.TimeWindow) return;
    const now = this.o.clock.now();
    const ends = (t.info.ExecutionCond?.TimeRange ?? []).map((w) => (w.EndTime ? parseRetinaDateTime(w.EndTime) : Infinity)).filter((e) => e > now);
    const end = Math.min(...ends);
    if (ends.length && Number.isFinite(end)) this.addTimer(t.id, setTimeout(stop, end - now));
  }

  /** Drops the task's timers (it ended, or was stopped). */
  clear(id: string): void {
    for (const tm of this.timers.get(id) ?? []) clearTimeout(tm);
    this.timers.delete(id);
  }

  /** Drops every timer (shutdown). */
  close(): void {
    for (const id of [...this.timers.keys()]) this.clear(id);
  }

  private addTimer(id: string, t: NodeJS.Timeout): void {
    t.unref();
    const list = this.timers.get(id) ?? [];
    list.push(t);
    this.timers.set(id, list);
  }
}
