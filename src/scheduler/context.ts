/**
 * What the scheduler's rooms share: its parts, and the sets by which dispatch and
 * reconciliation keep out of each other's way. The scheduler builds one and wires the rooms to it.
 */
import type { RetinaClient } from '../net/client.ts';
import type { Logger } from '../log.ts';
import type { SchedulerStateStore, SubtaskRow } from './store.ts';
import type { DeviceRegistry } from './devices.ts';
import type { PlacementRequest, PlacementView } from './placement/index.ts';
import type { AlgorithmRepository } from './repository.ts';
import type { SchedulerMetrics } from './metrics.ts';
import type { Liveness } from './liveness.ts';
import type { TaskView } from './task-view.ts';
import type { SchedulerOptions } from './options.ts';
import type { SubtaskPlan } from './planner.ts';
import type { DevTaskStatus, TaskResultBody } from '../protocol/index.ts';
import type { Reservations } from './reservations.ts';

/** Coordination between dispatch and reconciliation (all in memory; a restart starts clean). */
export class Coordination {
  /** Subtasks being placed again after a failure: reports about their old placement are ignored. */
  readonly pendingPlacement = new Set<string>();
  /** Reports from the executor a pending subtask is being dispatched to, read before its reply: they wait for the placement. */
  readonly earlyReports = new Map<string, DevTaskStatus[]>();
  /**
   * Subtasks with a task_dispatch in flight, with the executor it is sent to (null before the
   * first send): one executor at a time; a liveness decision waits for its answer.
   */
  readonly dispatching = new Map<string, string | null>();
  /** Subtasks failed because no dispatch was acknowledged (not by an executor's report): a later report from one is accepted. */
  readonly unconfirmedFailures = new Set<string>();
  /** Tasks and subtasks an initiator stopped (task_ops_control): no retries or migration for them. */
  readonly stopped = new Set<string>();
  /** (device, subtask) pairs being told to stop a copy that moved elsewhere (one stop in flight each). */
  readonly staleStops = new Set<string>();
  readonly retryTimers = new Set<NodeJS.Timeout>();
  closed = false;

  /**
   * A deleted task leaves nothing here: its stop (a delete stops a running task first) would
   * otherwise outlive it and hold back a task given the same TaskID later (a cascade's fixed IDs).
   */
  forgetTask(taskId: string, subtaskIds: readonly string[]): void {
    for (const id of [taskId, ...subtaskIds]) {
      this.stopped.delete(id);
      this.pendingPlacement.delete(id);
      this.earlyReports.delete(id);
      this.unconfirmedFailures.delete(id);
    }
  }
}

/** Places and dispatches subtasks (the dispatcher). */
export interface Placer {
  placeAll(taskId: string, plans: SubtaskPlan[], req: PlacementRequest): Promise<void>;
  place(taskId: string, plan: SubtaskPlan, req: PlacementRequest, attempt: number, exclude: Set<string>, opts?: { waitIfNone?: boolean }): Promise<string | null>;
}

/** Stops a copy of a subtask left on an executor it moved away from (the reconciler). */
export interface StaleStopper {
  stopStale(deviceId: string, subtaskId: string): Promise<void>;
}

/** What the dispatcher and reconciler ask of the orchestrator. */
export interface Orchestration {
  /** Records a conditional stage, unplaced, until its condition is met. */
  hold(taskId: string, plan: SubtaskPlan): void;
  /** A result reached the scheduler: judge conditions, relay to started conditional stages. */
  onResult(body: TaskResultBody): void;
  /** A subtask finished: the stages after it finish too once all they depend on has, or are skipped. */
  upstreamDone(done: SubtaskRow): Promise<void>;
  /** Tells a results-consuming stage to finish when everything it depends on has. */
  finishIfFed(dep: SubtaskRow): Promise<void>;
}

export interface SchedulerParts {
  o: SchedulerOptions;
  log: Logger;
  store: SchedulerStateStore;
  devices: DeviceRegistry;
  view: PlacementView;
  client: RetinaClient;
  repository: AlgorithmRepository;
  metrics: SchedulerMetrics;
  liveness: Liveness;
  tasks: TaskView;
  flags: Coordination;
  /** What placement has charged to executors beyond their last reports (memory, decode units). */
  reservations: Reservations;
  /** AlgFileURL of a published package. */
  algFileUrl(algId: number, version: string): string;
  placer: Placer;
  stale: StaleStopper;
  /** Conditional stages and the finishing of stages after others (orchestration/). */
  orchestrator: Orchestration;
}
