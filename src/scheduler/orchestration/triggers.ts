/**
 * Event-triggered tasks (M3, SB4): a task whose CustomInfo names `StartOn` is accepted but held
 * queued (ExecutionStatus 3, not placed, holding no slot) until its event arrives — a result or
 * a status of another task on this scheduler, or a named event pushed to `POST /System/TaskEvent`
 * — then it is placed like any accepted task (so the scheduler's slots may still make it wait).
 *
 * Decisions where the standard is silent: an initiator's events start only its own tasks and it
 * may watch only its own tasks (another's is answered as unknown, as everywhere else); a task
 * watching another task that ends without the event never runs (ExecutionStatus 0, ExceptionDesc
 * "not run: …"), like a conditional stage; what is held is kept in the task's row, so a restart
 * holds it again (re-armed from its ExceptionDesc).
 */
import { ExecutionStatus, conditionMet, startOnProblem, type StartOn, type TaskEvent, type TaskResultBody } from '../../protocol/index.ts';
import type { Logger } from '../../log.ts';
import type { SchedulerStateStore } from '../store.ts';
import { isFinal } from '../lifecycle.ts';

export const WAITING_EVENT_DESC = 'waiting for its event (StartOn)';
export const STARTED_DESC = 'its event arrived (StartOn): starting';
export const NOT_RUN_EVENT_DESC = 'not run: the task it waited for (StartOn.TaskID) ended without the event';

export interface TriggerDeps {
  store: SchedulerStateStore;
  log: Logger;
  /** Places a held task now (the scheduler's slots may still make it wait). */
  release(taskId: string): void;
  /** Tells the task's initiator its status changed (NotifyURL, MQTT). */
  notifyStatus(taskId: string): void;
}

interface Held { owner: string | null; on: StartOn }

export class EventTriggers {
  private readonly held = new Map<string, Held>();
  /** Watched TaskID → the held tasks watching it; event name → the held tasks waiting for it. */
  private readonly byTask = new Map<string, Set<string>>();
  private readonly byEvent = new Map<string, Set<string>>();

  constructor(private readonly d: TriggerDeps) {}

  /** Why `owner` (null: a node) may not hold a task on `on`, naming the field and the rule; or null. */
  problem(on: StartOn, owner: string | null): string | null {
    const why = startOnProblem(on);
    if (why || on.TaskID === undefined) return why;
    const t = this.d.store.task(on.TaskID);
    // Another initiator's task is answered as unknown: its existence is not revealed either.
    if (!t || (owner !== null && t.owner !== owner)) return `InitiationInfo.CustomInfo.StartOn.TaskID: no task "${on.TaskID}" on this scheduler (a task may wait only for a task its initiator may see)`;
    if (isFinal(t.status) && on.Status !== t.status) return `InitiationInfo.CustomInfo.StartOn.TaskID: task "${on.TaskID}" has already ended (ExecutionStatus ${t.status}): its event can no longer arrive`;
    return null;
  }

  /** Holds an accepted task until its event; `fresh` false when re-armed after a restart (its row already says so). */
  hold(taskId: string, owner: string | null, on: StartOn, fresh = true): void {
    if (fresh && this.d.store.setTaskStatus(taskId, ExecutionStatus.Queued, null, WAITING_EVENT_DESC)) this.d.notifyStatus(taskId);
    this.held.set(taskId, { owner, on });
    const key = on.TaskID ?? on.Event!;
    const index = on.TaskID !== undefined ? this.byTask : this.byEvent;
    let set = index.get(key);
    if (!set) index.set(key, (set = new Set()));
    set.add(taskId);
    this.d.log.info({ task: taskId, startOn: on }, 'task held until its event');
    // The status waited for may be reached already (or the watched task ended while we were down).
    if (on.TaskID !== undefined) {
      const watched = this.d.store.task(on.TaskID);
      if (!watched) this.notRun(taskId);
      else if (on.Status === watched.status || isFinal(watched.status)) this.onStatus(on.TaskID, watched.status);
    }
  }

  /** How many tasks are held (for tests and logs). */
  get size(): number {
    return this.held.size;
  }

  /** A fresh result reached the scheduler: held tasks watching its task's results may start. */
  onResult(body: TaskResultBody): void {
    if (!this.byTask.size) return;
    const taskId = this.d.store.subtask(body.TaskID)?.task_id ?? body.TaskID;
    for (const id of [...(this.byTask.get(taskId) ?? [])]) {
      const on = this.held.get(id)?.on;
      if (!on || on.Status !== undefined) continue;
      if (on.When && !conditionMet(on.When, body.TaskResultData.AnalysisResult)) continue;
      this.fire(id, `a result of task ${taskId}`);
    }
  }

  /** A task's status changed: held tasks waiting for that status start; those waiting for its results, once it ended, never run. */
  onStatus(taskId: string, status: number): void {
    for (const id of [...(this.byTask.get(taskId) ?? [])]) {
      const on = this.held.get(id)?.on;
      if (!on) continue;
      if (on.Status === status) this.fire(id, `task ${taskId} reached ExecutionStatus ${status}`);
      else if (isFinal(status)) this.notRun(id);
    }
  }

  /** A pushed event: starts the held tasks waiting for it whose condition its Data meets; `sender` an initiator's name (its own tasks only) or null for a node. */
  onEvent(e: TaskEvent, sender: string | null): string[] {
    const started: string[] = [];
    for (const id of [...(this.byEvent.get(e.Event) ?? [])]) {
      const h = this.held.get(id);
      if (!h || (sender !== null && h.owner !== sender)) continue;
      if (h.on.When && !conditionMet(h.on.When, [{ ResultData: e.Data ?? {} }])) continue;
      if (this.fire(id, `event ${e.Event}`)) started.push(id);
    }
    return started;
  }

  /** Starts a held task, unless it was deleted or stopped while it waited. */
  private fire(taskId: string, why: string): boolean {
    if (!this.forget(taskId)) return false;
    const t = this.d.store.task(taskId);
    if (!t || t.status !== ExecutionStatus.Queued) return false;
    this.d.log.info({ task: taskId, why }, 'event arrived: starting held task');
    // Said in the row first: a restart from here places it rather than holding it again.
    this.d.store.setTaskStatus(taskId, ExecutionStatus.Queued, null, STARTED_DESC);
    this.d.notifyStatus(taskId);
    this.d.release(taskId);
    return true;
  }

  /** The task it waited for ended without the event: it never runs. */
  private notRun(taskId: string): void {
    if (!this.forget(taskId)) return;
    const t = this.d.store.task(taskId);
    if (!t || t.status !== ExecutionStatus.Queued) return;
    this.d.store.setTaskStatus(taskId, ExecutionStatus.Done, null, NOT_RUN_EVENT_DESC);
    this.d.log.info({ task: taskId }, 'held task not run: the task it waited for ended without the event');
    this.d.notifyStatus(taskId);
  }

  private forget(taskId: string): boolean {
    const h = this.held.get(taskId);
    if (!h) return false;
    this.held.delete(taskId);
    const index = h.on.TaskID !== undefined ? this.byTask : this.byEvent;
    const key = h.on.TaskID ?? h.on.Event!;
    const set = index.get(key);
    set?.delete(taskId);
    if (set && !set.size) index.delete(key);
    return true;
  }
}
