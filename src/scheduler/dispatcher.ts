/**
 * The dispatcher (S4, S5): applies a placement Plan — tries the ranked executors in turn with a
 * task_dispatch, records where each subtask went — and places a task's subtasks in order
 * (downstream stages first, so upstream ones know where to send their results).
 */
import { CommandType, ExecutionStatus, TaskDispatchReply, type CustomInfo, type TaskDispatchInfo, EXCEPTION_DESC_MAX_BYTES, cutUtf8 } from '../protocol/index.ts';
import { place as planFor, type PlacementRequest } from './placement/index.ts';
import type { SubtaskPlan } from './planner.ts';
import { modelList } from './model-list.ts';
import { destinationsOf, type EdgeDeps } from './orchestration/edges.ts';
import { placementFailureCode } from './policies/placement-cause.ts';
import { rollback, rollsBack } from './policies/rollback.ts';
import type { Placer, SchedulerParts } from './context.ts';

/** What a stage asks of an executor: its algorithm and DeviceType; one that reads no stream decodes nothing. */
export function stageRequest(req: PlacementRequest, plan: SubtaskPlan): PlacementRequest {
  if (!plan.stage) return req;
  return { ...req, algId: plan.stage.algId, algType: plan.stage.algType, deviceType: plan.stage.deviceType, ...(plan.stage.readsStream ? {} : { decodeUnits: undefined }) };
}

/** Executors ranked per page of the placement; the next page excludes those tried. */
const PAGE = 16;

export class Dispatcher implements Placer {
  constructor(private readonly c: SchedulerParts) {}

  /** Places a task's subtasks in turn (downstream stages first), then derives the task's status. */
  async placeAll(taskId: string, plans: SubtaskPlan[], req: PlacementRequest): Promise<void> {
    const dag = plans.some((p) => p.stage);
    const task = dag ? this.c.store.task(taskId) : undefined;
    const custom = task ? JSON.parse(task.custom_info) as CustomInfo : undefined;
    // M6: a conditional stage is recorded, unplaced, until an upstream result meets its condition.
    for (const plan of plans) if (plan.stage?.when) this.c.orchestrator.hold(taskId, plan);
    // A stage sends its results to the ones after it: place downstream first, then point upstream at them.
    const order = dag ? [...plans].reverse() : plans;
    // SB7: the executors each split input's parts went to, so its next part goes elsewhere while it can.
    const spread = new Map<string, Set<string>>();
    for (const plan of order) {
      // A Stop that arrives while a large task is still being placed ends the placing too.
      if (this.c.flags.stopped.has(taskId) || this.c.flags.closed) {
        this.c.log.info({ task: taskId, unplaced: order.length - order.indexOf(plan) }, 'task stopped during placement: the rest is not placed');
        break;
      }
      if (plan.stage?.when) continue;
      if (custom) plan.dispatch = { ...plan.dispatch, DstDeviceList: destinationsOf(this.edges, custom, taskId, plan.subtaskId) };
      const taken = plan.spread ? spread.get(plan.spread) ?? new Set<string>() : new Set<string>();
      const placed = await this.place(taskId, plan, stageRequest(req, plan), 1, new Set(taken));
      if (placed && plan.spread) spread.set(plan.spread, taken.add(placed));
    }
    this.c.tasks.update(taskId);
  }

  private get edges(): EdgeDeps {
    return { store: this.c.store, devices: this.c.devices, scheduler: { deviceId: this.c.o.deviceId, url: this.c.o.publicUrl } };
  }

  /** Places and dispatches one subtask, trying the ranked executors in turn; returns the executor, or null. */
  async place(taskId: string, plan: SubtaskPlan, req: PlacementRequest, attempt: number, exclude: Set<string>, opts: { waitIfNone?: boolean } = {}): Promise<string | null> {
    const t0 = performance.now();
    const placed = await this.placeOnce(taskId, plan, req, attempt, exclude, opts);
    this.c.metrics.placed(placed !== null, performance.now() - t0);
    return placed;
  }

  private async placeOnce(taskId: string, plan: SubtaskPlan, req: PlacementRequest, attempt: number, exclude: Set<string>, opts: { waitIfNone?: boolean }): Promise<string | null> {
    // A pinned subtask (SB2) placed again goes back to where it was deployed.
    const near = plan.nearDeviceId ?? (req.pinned ? this.c.store.subtask(plan.subtaskId)?.device_id : undefined);
    const preq = { ...req, exclude, nearDeviceId: near };
    // The ranking comes a page at a time: the first executor usually accepts.
    let base = exclude;
    const first = planFor(preq, this.c.view, PAGE);
    let ranked = first.ranked;
    // With nobody else left, the excluded executor is still better than giving up — also when it
    // runs the algorithm only from our repository (its algorithm list may predate the install).
    if (!ranked.length && exclude.size) {
      base = new Set<string>();
      ranked = planFor({ ...preq, exclude: base }, this.c.view, PAGE).ranked;
    }
    if (!ranked.length && opts.waitIfNone) {
      // A retry with nobody online (the only executor restarting): stay queued; the caller tries again.
      this.c.store.setSubtaskStatus(plan.subtaskId, { status: ExecutionStatus.Queued, exceptionDesc: 'waiting for an online executor that offers the algorithm' });
      return null;
    }
    const errors: string[] = [];
    const tried = new Set<string>();
    this.c.flags.dispatching.set(plan.subtaskId, null);
    try {
    for (; ranked.length; ranked = planFor({ ...preq, exclude: new Set([...base, ...tried]) }, this.c.view, PAGE).ranked) for (const c of ranked) {
      if (tried.has(c.device.device_id)) continue;
      tried.add(c.device.device_id);
      // An executor without the package fetches it from our repository (AlgFileURL, table 20).
      const entry = this.c.repository.entry(c.alg.AlgID, c.alg.AlgVersion);
      const published = entry ? this.c.algFileUrl(c.alg.AlgID, c.alg.AlgVersion) : undefined;
      const models = modelList(c.alg, entry);
      const dispatch: TaskDispatchInfo = { ...plan.dispatch, AlgModelInfo: { AlgID: c.alg.AlgID, AlgVersion: c.alg.AlgVersion, ...(published ? { AlgFileURL: published } : {}), ...(models ? { ModelList: models } : {}) } };
      this.c.store.insertSubtask({ subtaskId: plan.subtaskId, taskId, deviceId: c.device.device_id, dispatch, status: ExecutionStatus.Queued, attempts: attempt });
      // Charged before the dispatch is sent: a placement running meanwhile sees it (S3).
      this.c.reservations.reserve(c.device.device_id, plan.subtaskId, { memoryBytes: req.memoryBytes, decodeUnits: req.decodeUnits });
      this.c.flags.dispatching.set(plan.subtaskId, c.device.device_id);
      try {
        await this.c.client.sendCommand(c.device.command_url!, {
          CommandType: CommandType.TaskDispatch, DeviceID: c.device.device_id,
          MessageBody: { TaskDispatchList: [dispatch] },
        }, TaskDispatchReply);
        if (!this.c.liveness.tracks(c.device.device_id)) {
          // Marked offline while the dispatch was in flight: the work is placed elsewhere, so this
          // copy is stopped, never left as a second live one; everyone online is a candidate again.
          void this.c.stale.stopStale(c.device.device_id, plan.subtaskId);
          this.c.reservations.release(c.device.device_id, plan.subtaskId);
          errors.push(`${c.device.device_id}: went offline during dispatch`);
          base = new Set<string>();
          continue;
        }
        this.c.devices.notePlaced(c.device.device_id);
        this.c.log.info({ task: taskId, subtask: plan.subtaskId, device: c.device.device_id, attempt }, 'subtask dispatched');
        return c.device.device_id;
      } catch (err) {
        this.c.reservations.release(c.device.device_id, plan.subtaskId);
        // Cut off by this scheduler's own shutdown: no failure to record; the subtask stays queued
        // on that executor and the next start asks it what it runs (SB9).
        if (this.c.flags.closed) return null;
        this.c.metrics.dispatchFailed();
        errors.push(`${c.device.device_id}: ${(err as Error).message}`);
      }
    }
    } finally {
      this.c.flags.dispatching.delete(plan.subtaskId);
    }
    const why = first.rejected.length ? `; rejected: ${first.rejected.slice(0, 4).map((r) => `${r.deviceId}: ${r.why}`).join('; ')}` : '';
    const desc = errors.length ? `no executor accepted the subtask: ${errors.join('; ')}` : `no online executor offers the algorithm${why}`;
    this.c.log.warn({ task: taskId, subtask: plan.subtaskId, desc }, 'subtask not placed');
    if (!this.c.store.subtask(plan.subtaskId)) {
      this.c.store.insertSubtask({ subtaskId: plan.subtaskId, taskId, deviceId: '-', dispatch: plan.dispatch, status: ExecutionStatus.Error, attempts: attempt });
    }
    const code = placementFailureCode(first.rejected, errors);
    this.c.store.setSubtaskStatus(plan.subtaskId, { status: ExecutionStatus.Error, exceptionCode: code, exceptionDesc: cutUtf8(desc, EXCEPTION_DESC_MAX_BYTES) });
    // SB11: a subtask nobody can take fails for good; its task may roll back like after a final failure.
    const task = this.c.store.task(taskId);
    if (task && rollsBack(JSON.parse(task.custom_info) as CustomInfo)) void rollback(this.c, this.c.store.subtask(plan.subtaskId)!, code);
    // A dispatch whose answer was lost (a timeout) may still have been accepted: this failure is
    // the scheduler's guess, not the executor's word, so that executor's reports still count.
    this.c.flags.unconfirmedFailures.add(plan.subtaskId);
    this.c.tasks.update(taskId);
    return null;
  }

}
