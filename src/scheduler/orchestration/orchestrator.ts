/**
 * Run-time orchestration of a task DAG (M2, M6, SD1): conditional stages wait unplaced until an
 * upstream result meets their condition, then are placed and started; a stage consuming results
 * is told to finish once every stage it depends on is done (fan-in waits for all of them).
 *
 * Decisions where the standard is silent: the scheduler judges conditions, so an upstream with a
 * conditional dependent also sends its results here; a conditional stage that consumes results
 * gets only those that meet its condition, relayed by the scheduler in arrival order (the
 * other edges go executor → executor); a conditional stage whose judged upstream finishes
 * without a match never runs and ends done (0) with ExceptionDesc saying so.
 */
import { CommandType, Control, ExecutionStatus, TaskOpsControlReply, conditionMet, type CustomInfo, type TaskBasicInfo, type TaskDispatchInfo, type TaskResultBody } from '../../protocol/index.ts';
import { ACTIVE_STATUSES, type SubtaskRow } from '../store.ts';
import { placementWishes, type PlacementRequest } from '../placement/index.ts';
import { isFinal } from '../lifecycle.ts';
import type { SubtaskPlan } from '../subtask-plan.ts';
import type { Orchestration, SchedulerParts } from '../context.ts';
import { conditionStage, stageAlg, stageOfSubtask, type DagStage } from './dag.ts';
import { UNPLACED, dependentsOf, destinationsOf, fedDirectly } from './edges.ts';
import { SCHEDULER_PRODUCT_TYPE } from '../cascade/aggregate.ts';
import { StageFeed } from './stage-feed.ts';

export const WAITING_DESC = 'waiting for its condition (When)';
export const NOT_RUN_DESC = 'not run: its condition (When) was never met';

export class Orchestrator implements Orchestration {
  /** Relays per stage fed by the scheduler: one at a time, in arrival order, retried (stage-feed.ts). */
  private readonly feed: StageFeed;
  /** Conditional stages being placed, with the results to relay once they are. */
  private readonly starting = new Map<string, TaskResultBody[]>();

  /** Per task: its CustomInfo when its Topology has a conditional stage, else null (results are judged only for those). */
  private readonly judged = new Map<string, CustomInfo | null>();

  constructor(private readonly c: SchedulerParts) {
    this.feed = new StageFeed({ store: c.store, devices: c.devices, client: c.client, log: c.log, closed: () => c.flags.closed });
  }

  /** A deleted task's Topology goes: a task given its TaskID again (a cascade keeps its IDs) is judged by its own. */
  forgetTask(taskId: string, subtaskIds: readonly string[]): void {
    this.judged.delete(taskId);
    for (const id of subtaskIds) this.starting.delete(id);
  }

  /** The task's CustomInfo if any of its stages has When; read once per task, not per result. */
  private conditionalTask(taskId: string): CustomInfo | null {
    let v = this.judged.get(taskId);
    if (v === undefined) {
      const task = this.c.store.task(taskId);
      const custom = task ? JSON.parse(task.custom_info) as CustomInfo : undefined;
      v = custom?.Topology?.Stages.some((st) => st.When) ? custom : null;
      if (this.judged.size >= 10_000) this.judged.clear(); // a bound, not an eviction policy: re-read on demand
      this.judged.set(taskId, v);
    }
    return v;
  }

  hold(taskId: string, plan: SubtaskPlan): void {
    this.c.store.insertSubtask({ subtaskId: plan.subtaskId, taskId, deviceId: UNPLACED, dispatch: plan.dispatch, status: ExecutionStatus.Queued, attempts: 0 });
    this.c.store.setSubtaskStatus(plan.subtaskId, { status: ExecutionStatus.Queued, exceptionDesc: WAITING_DESC });
  }

  onResult(body: TaskResultBody): void {
    const sub = this.c.store.subtask(body.TaskID);
    if (!sub) return;
    this.passOn(sub, body);
    const custom = this.conditionalTask(sub.task_id);
    if (!custom) return;
    const from = stageOfSubtask(custom.Topology, sub.subtask_id)?.name;
    for (const dep of dependentsOf(this.c.store, sub.task_id, sub.subtask_id)) {
      const st = stageOfSubtask(custom.Topology, dep.subtask_id);
      if (!st?.when) continue;
      // Only the judged upstream's results are held to the condition; another upstream's pass.
      const met = conditionStage(st) === from ? conditionMet(st.when, body.TaskResultData.AnalysisResult) : null;
      if (met === false) continue;
      const pending = this.starting.get(dep.subtask_id);
      if (pending) { if (!st.readsStream) pending.push(body); continue; }
      if (dep.device_id === UNPLACED) {
        const basic = this.c.store.task(sub.task_id)?.basic_info;
        if (met && basic && dep.status === ExecutionStatus.Queued && !this.c.flags.stopped.has(sub.task_id) && !this.c.flags.closed) void this.start(basic, custom, dep, st, body);
        continue;
      }
      if (!st.readsStream && ACTIVE_STATUSES.includes(dep.status)) this.relay(dep.subtask_id, body);
    }
  }

  /**
   * Cascade B.2: a subtask running at a lower scheduler sends its results here only (that
   * scheduler relays every result upwards and does not read the DstDeviceList it was given), so
   * from here each goes on to every started stage it feeds directly (at another site, that
   * site's scheduler passes it to its executor). An executor sends to those stages itself.
   */
  private passOn(sub: SubtaskRow, body: TaskResultBody): void {
    if (this.c.devices.row(sub.device_id)?.product_type !== SCHEDULER_PRODUCT_TYPE) return;
    const task = this.c.store.task(sub.task_id);
    const custom = task && JSON.parse(task.custom_info) as CustomInfo;
    if (!custom) return;
    for (const dep of dependentsOf(this.c.store, sub.task_id, sub.subtask_id)) {
      if (fedDirectly(custom, dep) && dep.device_id !== UNPLACED && ACTIVE_STATUSES.includes(dep.status)) this.relay(dep.subtask_id, body);
    }
  }

  /** M6: the condition is met: the stage is placed now, and fed the result that met it. */
  private async start(basicJson: string, custom: CustomInfo, dep: SubtaskRow, st: DagStage, trigger: TaskResultBody): Promise<void> {
    this.starting.set(dep.subtask_id, st.readsStream ? [] : [trigger]);
    this.c.log.info({ subtask: dep.subtask_id, after: trigger.TaskID, ts: trigger.Ts }, 'condition met: starting conditional stage');
    const info = JSON.parse(dep.dispatch_info) as TaskDispatchInfo;
    const wishes = placementWishes((JSON.parse(basicJson) as TaskBasicInfo).Constraints, custom);
    const req: PlacementRequest = { ...(wishes.ok ? wishes.value : {}), ...stageAlg(custom, st.spec), deviceType: st.spec.DeviceType, ...(st.readsStream ? {} : { decodeUnits: undefined }) };
    const dispatch = { ...info, DstDeviceList: destinationsOf({ store: this.c.store, devices: this.c.devices, scheduler: { deviceId: this.c.o.deviceId, url: this.c.o.publicUrl } }, custom, dep.task_id, dep.subtask_id) };
    const input = custom.Inputs.find((x) => x.StreamURL === info.InputInfo.StreamURL);
    let placed: string | null = null;
    try {
      placed = await this.c.placer.place(dep.task_id, { subtaskId: dep.subtask_id, dispatch, ...(input?.DeviceID ? { nearDeviceId: input.DeviceID } : {}) }, req, 1, new Set());
    } finally {
      const pending = this.starting.get(dep.subtask_id) ?? [];
      this.starting.delete(dep.subtask_id);
      if (placed) for (const b of pending) this.relay(dep.subtask_id, b);
      this.c.tasks.update(dep.task_id);
    }
    // Its upstreams may have finished while it was placed: then it finishes after what it was given.
    if (placed && !st.readsStream) await this.finishIfFed(this.c.store.subtask(dep.subtask_id)!);
  }

  /** Sends one result on to a started stage (a conditional one, or one fed across levels), after the ones before it. */
  private relay(subtaskId: string, body: TaskResultBody): void {
    this.feed.send(subtaskId, body);
  }

  async upstreamDone(done: SubtaskRow): Promise<void> {
    const task = this.c.store.task(done.task_id);
    const custom = task ? JSON.parse(task.custom_info) as CustomInfo : undefined;
    for (const dep of dependentsOf(this.c.store, done.task_id, done.subtask_id)) {
      const st = custom && stageOfSubtask(custom.Topology, dep.subtask_id);
      if (dep.device_id === UNPLACED && st?.when) {
        if (dep.status !== ExecutionStatus.Queued || this.starting.has(dep.subtask_id)) continue;
        // The upstream its condition judges ended without a match: the stage never runs.
        const judged = (JSON.parse(dep.dispatch_info) as TaskDispatchInfo).Dependencies?.map((d) => this.c.store.subtask(d.TaskID))
          .find((u) => u && stageOfSubtask(custom!.Topology, u.subtask_id)?.name === conditionStage(st));
        if (judged && isFinal(judged.status)) {
          this.c.store.setSubtaskStatus(dep.subtask_id, { status: ExecutionStatus.Done, exceptionDesc: NOT_RUN_DESC });
          this.c.log.info({ subtask: dep.subtask_id }, 'conditional stage not run: its condition was never met');
          this.c.tasks.update(dep.task_id);
        }
        continue;
      }
      await this.finishIfFed(dep);
    }
  }

  /**
   * A stage that consumes results is told to finish (it drains what it has first) once every
   * stage it depends on is finished; a stage reading its own stream ends with its stream.
   */
  async finishIfFed(dep: SubtaskRow): Promise<void> {
    const info = JSON.parse(dep.dispatch_info) as TaskDispatchInfo;
    if (!ACTIVE_STATUSES.includes(dep.status) || info.InputInfo.StreamURL || dep.device_id === UNPLACED) return;
    if (!(info.Dependencies ?? []).every((d) => { const u = this.c.store.subtask(d.TaskID); return u && isFinal(u.status); })) return;
    await this.feed.drained(dep.subtask_id);
    const dev = this.c.devices.row(dep.device_id);
    if (!dev?.command_url) return;
    try {
      await this.c.client.sendCommand(dev.command_url, { CommandType: CommandType.TaskOpsControl, DeviceID: dev.device_id,
        MessageBody: { OpsControlList: [{ DeviceID: dev.device_id, TaskID: dep.subtask_id, Control: Control.Stop }] } }, TaskOpsControlReply);
    } catch (err) {
      this.c.log.warn({ subtask: dep.subtask_id, err: (err as Error).message }, 'could not tell a dependent stage to finish');
    }
  }
}
