/**
 * The reconciler (S5, S7, SB10, M2): executors' status reports, retries of failed subtasks
 * elsewhere (resuming where they stopped), migration away from lost executors, re-pointing the
 * stages that feed a moved one, and stopping copies left on executors a subtask moved away from.
 */
import { CommandType, Control, type CustomInfo, ExceptionCode, ExecutionStatus, ExtendedExceptionCode, HierarchicalQuery, TaskDispatchReply, TaskOpsControlReply, TaskStatusQueryReply, type DevTaskStatus, type TaskBasicInfo, type TaskDispatchInfo, EXCEPTION_DESC_MAX_BYTES, cutUtf8, frameIntervalMs } from '../protocol/index.ts';
import { ACTIVE_STATUSES, type SubtaskRow } from './store.ts';
import { placementWishes, type PlacementRequest } from './placement/index.ts';
import { STOPPED_DESC } from './control.ts';
import { acceptsReport } from './lifecycle.ts';
import type { SchedulerParts, StaleStopper } from './context.ts';
import { stageAlg, stageOfSubtask } from './orchestration/dag.ts';
import { retryDelayMs, retryRule } from './policies/retry.ts';
import { rollback, rollsBack } from './policies/rollback.ts';
import { shortOf } from './policies/shortage.ts';
import { destinationsOf, type EdgeDeps } from './orchestration/edges.ts';

const ACTIVE = ACTIVE_STATUSES;


export class Reconciler implements StaleStopper {
  constructor(private readonly c: SchedulerParts) {}

  private get edges(): EdgeDeps {
    return { store: this.c.store, devices: this.c.devices, scheduler: { deviceId: this.c.o.deviceId, url: this.c.o.publicUrl } };
  }

  /** `PATCH /System/TaskStatus/`: one DevTaskStatus from an executor. Returns unknown TaskIDs. */
  onTaskStatus(dts: DevTaskStatus): string[] {
    const unknown: string[] = [];
    for (const st of dts.TaskStatusList ?? []) {
      const sub = this.c.store.subtask(st.TaskID);
      if (!sub) { unknown.push(st.TaskID); continue; }
      if (this.c.flags.pendingPlacement.has(st.TaskID)) {
        // While a failed subtask is placed again, reports about its old placement are ignored. The
        // executor it is being dispatched to may report before its reply is read: that waits.
        if (this.c.flags.dispatching.get(st.TaskID) === dts.DeviceID) {
          const early = this.c.flags.earlyReports.get(st.TaskID) ?? [];
          early.push({ DeviceID: dts.DeviceID, TaskStatusList: [st] });
          this.c.flags.earlyReports.set(st.TaskID, early);
        }
        continue;
      }
      if (sub.device_id !== dts.DeviceID) {
        // An executor the subtask has left (it was thought lost, and came back) still runs it: stop that copy.
        if (ACTIVE.includes(st.ExecutionStatus)) void this.stopStale(dts.DeviceID, st.TaskID);
        continue;
      }
      if (!acceptsReport(sub.status) && !this.c.flags.unconfirmedFailures.delete(st.TaskID)) {
        // Table 31: done and failed are final; this report was overtaken by the end.
        this.c.log.info({ subtask: st.TaskID, device: dts.DeviceID, status: sub.status, reported: st.ExecutionStatus }, 'stale status report ignored');
        continue;
      }
      // A subtask ended by a Stop says so (ExceptionCode 90, codes.ts), whether its executor did or not.
      const stopped = st.ExecutionStatus === ExecutionStatus.Done && (st.ExceptionDesc === STOPPED_DESC || this.c.flags.stopped.has(sub.task_id) || this.c.flags.stopped.has(st.TaskID));
      this.c.store.setSubtaskStatus(st.TaskID, { status: st.ExecutionStatus, progress: st.Progress, exceptionCode: stopped ? ExtendedExceptionCode.Stopped : st.ExceptionCode ?? null, exceptionDesc: stopped ? STOPPED_DESC : st.ExceptionDesc ?? null });
      if (st.ExecutionStatus === ExecutionStatus.Done || st.ExecutionStatus === ExecutionStatus.Error) this.c.reservations.ended(st.TaskID);
      if (st.ExecutionStatus === ExecutionStatus.Error) {
        const fresh = this.c.store.subtask(st.TaskID)!;
        this.subtaskFailed(fresh, st.ExceptionCode ?? ExceptionCode.RunError, st.ExceptionDesc ?? 'error', false);
      }
      if (st.ExecutionStatus === ExecutionStatus.Done && sub.status !== ExecutionStatus.Done) void this.c.orchestrator.upstreamDone(this.c.store.subtask(st.TaskID)!);
      this.c.tasks.update(sub.task_id);
    }
    return unknown;
  }

  /** A subtask is placed again (or will not be): reports that arrived early are read now. */
  private endPlacement(subtaskId: string): void {
    this.c.flags.pendingPlacement.delete(subtaskId);
    const early = this.c.flags.earlyReports.get(subtaskId);
    this.c.flags.earlyReports.delete(subtaskId);
    for (const dts of early ?? []) this.onTaskStatus(dts);
  }

  /**
   * Tells `deviceId` to stop its copy of a subtask that now runs elsewhere: one stop in flight per
   * pair. The pair is forgotten once the stop is answered (or failed): a copy that still reports
   * itself active is stopped again on its next report, and a subtask that comes back here and
   * moves away once more has that new copy stopped too; nothing is kept per stale copy for good.
   */
  async stopStale(deviceId: string, subtaskId: string): Promise<void> {
    const key = `${deviceId}\n${subtaskId}`;
    const dev = this.c.devices.row(deviceId);
    if (this.c.flags.staleStops.has(key) || !dev?.command_url) return;
    this.c.flags.staleStops.add(key);
    this.c.log.warn({ device: deviceId, subtask: subtaskId }, 'stopping a copy of a subtask that moved elsewhere');
    try {
      await this.c.client.sendCommand(dev.command_url, { CommandType: CommandType.TaskOpsControl, DeviceID: deviceId,
        MessageBody: { OpsControlList: [{ DeviceID: deviceId, TaskID: subtaskId, Control: Control.Stop }] } }, TaskOpsControlReply);
    } catch (err) {
      this.c.log.warn({ device: deviceId, subtask: subtaskId, err: (err as Error).message }, 'could not stop a stale copy');
    } finally {
      this.c.flags.staleStops.delete(key);
    }
  }

  /** SB10 / S7: retry a failed subtask elsewhere (resuming at its last position), or let it fail. */
  private subtaskFailed(s: SubtaskRow, code: number, desc: string, executorLost: boolean): void {
    if (this.c.flags.stopped.has(s.task_id) || this.c.flags.stopped.has(s.subtask_id)) {
      // Stopped by its initiator: an executor lost meanwhile ends it as stopped, not as an error.
      if (executorLost) this.c.store.setSubtaskStatus(s.subtask_id, { status: ExecutionStatus.Done, exceptionCode: ExtendedExceptionCode.Stopped, exceptionDesc: STOPPED_DESC });
      else this.c.store.setSubtaskStatus(s.subtask_id, { status: ExecutionStatus.Error, exceptionCode: code, exceptionDesc: cutUtf8(desc, EXCEPTION_DESC_MAX_BYTES) });
      this.c.tasks.update(s.task_id);
      return;
    }
    if (this.c.flags.pendingPlacement.has(s.subtask_id)) {
      // Already being placed again: a second retry would make a second live copy.
      this.c.log.info({ subtask: s.subtask_id, why: desc }, 'failure of a subtask already being rescheduled ignored');
      return;
    }
    const task = this.c.store.task(s.task_id);
    if (!task) return;
    const custom = JSON.parse(task.custom_info) as CustomInfo;
    const defaults = { maxRetries: this.c.o.maxRetries ?? 2, retryIntervalMs: this.c.o.retryIntervalMs ?? 2000 };
    // SB10: the task's FailurePolicy (or the defaults) decides by ExceptionCode; attempts count placements.
    const rule = retryRule(custom.FailurePolicy, code, executorLost, defaults);
    if (!rule || s.attempts > rule.MaxAttempts || this.c.flags.closed) {
      this.c.store.setSubtaskStatus(s.subtask_id, { status: ExecutionStatus.Error, exceptionCode: code, exceptionDesc: cutUtf8(desc, EXCEPTION_DESC_MAX_BYTES) });
      this.c.tasks.update(s.task_id);
      // SB11: the rest of the task is stopped and cleaned, so it reports one consistent state.
      if (!this.c.flags.closed && rollsBack(custom)) void rollback(this.c, this.c.store.subtask(s.subtask_id)!, code);
      return;
    }
    const dispatch = JSON.parse(s.dispatch_info) as TaskDispatchInfo;
    // The executor of the failed attempt, should the retry land there again (runtime/resume-floor.ts).
    const args = { ...(dispatch.InputInfo.AlgArgs ?? {}), Retry: { Attempt: s.attempts + 1, DeviceID: s.device_id } };
    // A stage of a manual topology keeps its DeviceType and AlgType when it moves (M1, S1).
    const stage = stageOfSubtask(custom.Topology, s.subtask_id);
    const wishes = placementWishes((JSON.parse(task.basic_info) as TaskBasicInfo).Constraints, custom);
    const alg = stage ? stageAlg(custom, stage.spec) : { algId: custom.AlgID, algType: custom.AlgType };
    const req: PlacementRequest = { ...(wishes.ok ? wishes.value : {}), ...(dispatch.InputInfo.StreamURL ? {} : { decodeUnits: undefined }),
      algId: dispatch.AlgModelInfo.AlgID || alg.algId,
      algType: dispatch.AlgModelInfo.AlgID ? undefined : alg.algType, deviceType: stage?.spec.DeviceType };
    this.c.store.setSubtaskStatus(s.subtask_id, { status: ExecutionStatus.Queued, exceptionCode: code, exceptionDesc: cutUtf8(`retrying: ${desc}`, EXCEPTION_DESC_MAX_BYTES) });
    this.c.log.warn({ subtask: s.subtask_id, from: s.device_id, attempt: s.attempts + 1, why: desc }, 'rescheduling subtask');
    // Reports about the old placement are ignored from here until the subtask is placed again.
    this.c.flags.pendingPlacement.add(s.subtask_id);
    const waitUntil = Date.now() + (this.c.o.placementWaitMs ?? 60_000);
    const t = setTimeout(() => {
      this.c.flags.retryTimers.delete(t);
      // Not while closing, and not if the subtask was stopped while it waited.
      if (this.c.flags.closed || this.c.store.subtask(s.subtask_id)?.status !== ExecutionStatus.Queued) { this.endPlacement(s.subtask_id); return; }
      void this.placeAgain(s, { ...dispatch, InputInfo: { ...dispatch.InputInfo, AlgArgs: args } }, req, waitUntil);
    }, executorLost ? 0 : retryDelayMs(rule, s.attempts, defaults));
    t.unref();
    this.c.flags.retryTimers.add(t);
  }

  /**
   * Places a failed subtask again. A stage's destinations are re-read first (the stage after it
   * may have moved meanwhile); once placed, the stages that feed it are re-pointed at its new
   * executor, and if they are already done it is told to finish after what it has.
   */
  private async placeAgain(s: SubtaskRow, dispatch: TaskDispatchInfo, req: PlacementRequest, waitUntil: number): Promise<void> {
    const task = this.c.store.task(s.task_id);
    const custom = task ? JSON.parse(task.custom_info) as CustomInfo : undefined;
    if (custom?.Topology) dispatch = { ...dispatch, DstDeviceList: destinationsOf(this.edges, custom, s.task_id, s.subtask_id) };
    const waiting = Date.now() < waitUntil;
    const placed = await this.c.placer.place(s.task_id, { subtaskId: s.subtask_id, dispatch: this.resumed(s.subtask_id, dispatch) }, req, s.attempts + 1, new Set([s.device_id]), { waitIfNone: waiting });
    if (!placed && waiting && this.c.store.subtask(s.subtask_id)?.status === ExecutionStatus.Queued && !this.c.flags.closed) {
      // Nobody can take it yet: look again shortly, until the wait is over.
      const t = setTimeout(() => {
        this.c.flags.retryTimers.delete(t);
        if (this.c.flags.closed || this.c.store.subtask(s.subtask_id)?.status !== ExecutionStatus.Queued) { this.endPlacement(s.subtask_id); return; }
        void this.placeAgain(s, dispatch, req, waitUntil);
      }, Math.min(1000, this.c.o.retryIntervalMs ?? 2000));
      t.unref();
      this.c.flags.retryTimers.add(t);
      return;
    }
    this.endPlacement(s.subtask_id);
    if (!placed || !dispatch.Dependencies?.length) return;
    const dev = this.c.devices.row(placed);
    if (!dev?.command_url) return;
    for (const dep of dispatch.Dependencies) {
      const up = this.c.store.subtask(dep.TaskID);
      if (!up) continue;
      const upInfo = JSON.parse(up.dispatch_info) as TaskDispatchInfo;
      const moved: TaskDispatchInfo = { ...upInfo, DstDeviceList: custom ? destinationsOf(this.edges, custom, s.task_id, up.subtask_id) : [{ DeviceID: dev.device_id, OutputURL: dev.command_url }] };
      this.c.store.setSubtaskDispatch(up.subtask_id, moved);
      // Results the dead stage took but never passed on: the upstream sends again those of frames
      // after the last one this stage's results reached us for.
      const replayFrom = this.c.store.resumeAfterMs(s.subtask_id, 1) ?? 0;
      const repoint: TaskDispatchInfo = { ...moved, InputInfo: { ...moved.InputInfo, AlgArgs: { ...(moved.InputInfo.AlgArgs ?? {}), ReplayFromMs: replayFrom } } };
      const upDev = this.c.devices.row(up.device_id);
      // A running stage is re-pointed; a finished one only sends again what the dead stage lost.
      if (!(ACTIVE.includes(up.status) || up.status === ExecutionStatus.Done) || !upDev?.command_url || !upDev.online) continue;
      try {
        // The same TaskID again with new destinations: the executor re-points it (and what it still has queued).
        await this.c.client.sendCommand(upDev.command_url, { CommandType: CommandType.TaskDispatch, DeviceID: upDev.device_id,
          MessageBody: { TaskDispatchList: [repoint] } }, TaskDispatchReply);
        this.c.log.info({ subtask: up.subtask_id, to: dev.device_id }, 'upstream stage re-pointed at the moved stage');
      } catch (err) {
        this.c.log.warn({ subtask: up.subtask_id, err: (err as Error).message }, 'upstream stage not re-pointed');
      }
    }
    // Upstream stages that already finished will send nothing more: the moved stage finishes at once.
    const moved = this.c.store.subtask(s.subtask_id);
    if (moved) await this.c.orchestrator.finishIfFed(moved);
  }

  /**
   * SB12: a subtask that reads a stream resumes after the last result stored for it, read as it is
   * dispatched, not when it failed: the failed attempt's results can still arrive in between. Its
   * StartOffsetMs is set even when none was stored (0): an executor that ran the failed attempt
   * raises it past the results it still had queued (runtime/resume-floor.ts).
   */
  private resumed(subtaskId: string, dispatch: TaskDispatchInfo): TaskDispatchInfo {
    if (!dispatch.InputInfo.StreamURL) return dispatch;
    const resume = this.c.store.resumeAfterMs(subtaskId, frameIntervalMs(dispatch.InputInfo.TaskFrameRate)) ?? 0;
    const asked = dispatch.InputInfo.AlgArgs?.StartOffsetMs;
    return { ...dispatch, InputInfo: { ...dispatch.InputInfo, AlgArgs: { ...dispatch.InputInfo.AlgArgs, StartOffsetMs: Math.max(resume, typeof asked === 'number' ? asked : 0) } } };
  }

  /** S7: an executor is lost (offline, unregistered): its active subtasks move elsewhere. */
  deviceLost(deviceId: string, why: string): void {
    for (const s of this.c.store.subtasksOnDevice(deviceId, ACTIVE)) {
      // Its dispatch is still in flight: place() judges that placement when the answer comes.
      if (this.c.flags.dispatching.has(s.subtask_id)) continue;
      this.subtaskFailed(s, ExceptionCode.RunError, why, true);
    }
  }

  /** S7, SM1: an executor disabled or removed while online: its subtasks move elsewhere and its copies are stopped. */
  deviceWithdrawn(deviceId: string, why: string): void {
    for (const s of this.c.store.subtasksOnDevice(deviceId, ACTIVE)) {
      if (this.c.flags.dispatching.has(s.subtask_id)) continue;
      this.subtaskFailed(s, ExceptionCode.RunError, why, true);
      void this.stopStale(deviceId, s.subtask_id);
    }
  }

  /** S7: subtasks on an executor whose TotalResource report can no longer hold them move elsewhere, and its copies are stopped. */
  resourcesChanged(deviceId: string): void {
    const total = this.c.devices.get(deviceId)?.total;
    for (const s of this.c.store.subtasksOnDevice(deviceId, ACTIVE)) {
      const task = this.c.flags.dispatching.has(s.subtask_id) ? undefined : this.c.store.task(s.task_id);
      if (!task) continue;
      const wishes = placementWishes((JSON.parse(task.basic_info) as TaskBasicInfo).Constraints, JSON.parse(task.custom_info) as CustomInfo);
      const why = shortOf(total, wishes.ok ? wishes.value.memoryBytes : undefined);
      if (!why) continue;
      this.subtaskFailed(s, ExceptionCode.ShortOfResources, why, true);
      void this.stopStale(deviceId, s.subtask_id);
    }
  }

  /**
   * A device back after it was thought lost may still run subtasks that moved elsewhere
   * meanwhile: ask it what it runs (task_status_query) and stop those copies.
   */
  async reconcile(deviceId: string): Promise<void> {
    const d = this.c.devices.row(deviceId);
    if (!d?.command_url) return;
    try {
      const reply = await this.c.client.sendCommand(d.command_url, { CommandType: CommandType.TaskStatusQuery, DeviceID: deviceId,
        MessageBody: { DeviceList: [{ DeviceID: deviceId, HierarchicalQuery: HierarchicalQuery.No }] } }, TaskStatusQueryReply);
      for (const dts of reply.TaskStatusSet) {
        if (dts.DeviceID !== deviceId) continue;
        for (const st of dts.TaskStatusList ?? []) {
          const sub = this.c.store.subtask(st.TaskID);
          if (sub && sub.device_id !== deviceId && ACTIVE.includes(st.ExecutionStatus)) await this.stopStale(deviceId, st.TaskID);
        }
      }
    } catch (err) {
      this.c.log.warn({ device: deviceId, err: (err as Error).message }, 'could not ask a returning device what it runs');
    }
  }

}
