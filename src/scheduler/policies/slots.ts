/**
 * SB5: a limit on the tasks this scheduler runs at once, changeable at run time. A task accepted
 * past the limit waits (ExecutionStatus 3, queued) and starts when one ends, chosen by the
 * task-order strategy (strategies/: priority, ageing, round robin, or a custom module). No limit
 * (the default) starts every task at once, as before.
 */
import type { TaskOrderStrategy, WaitingTask } from '../strategies/index.ts';

export interface SlotPolicy {
  /** Tasks running at once (undefined: no limit). */
  maxConcurrentTasks?: number;
  strategy: TaskOrderStrategy;
}

export class TaskSlots {
  private readonly waiting = new Map<string, { w: WaitingTask; start: (atOnce: boolean) => void }>();
  private readonly running = new Set<string>();

  constructor(private policy: SlotPolicy, private readonly now: () => number = Date.now) {}

  /** Calls `start(true)` now when a slot is free, else holds the task (`start(false)` when its turn comes); true when it started. */
  submit(w: WaitingTask, start: (atOnce: boolean) => void): boolean {
    if (this.free()) { this.running.add(w.taskId); start(true); return true; }
    this.waiting.set(w.taskId, { w, start });
    return false;
  }

  /** A task already running (found so after a restart) holds a slot. */
  adopt(taskId: string): void {
    this.running.add(taskId);
  }

  /** A task ended (or was deleted): its slot goes to the next waiting task. */
  ended(taskId: string): void {
    this.waiting.delete(taskId);
    if (this.running.delete(taskId)) this.pump();
  }

  /** Changes the limit or the strategy now; a raised limit starts waiting tasks at once. */
  set(p: Partial<SlotPolicy>): SlotPolicy {
    this.policy = { ...this.policy, ...p };
    this.pump();
    return this.policy;
  }

  get current(): SlotPolicy & { running: number; waiting: number } {
    return { ...this.policy, running: this.running.size, waiting: this.waiting.size };
  }

  isWaiting(taskId: string): boolean {
    return this.waiting.has(taskId);
  }

  private free(): boolean {
    return this.policy.maxConcurrentTasks === undefined || this.running.size < this.policy.maxConcurrentTasks;
  }

  private pump(): void {
    while (this.waiting.size && this.free()) {
      const next = this.policy.strategy.next([...this.waiting.values()].map((x) => x.w), this.now());
      const entry = this.waiting.get(next.taskId);
      if (!entry) throw new Error(`task-order strategy ${this.policy.strategy.name} chose ${next.taskId}, which is not waiting`);
      this.waiting.delete(next.taskId);
      this.running.add(next.taskId);
      entry.start(false);
    }
  }
}
