/**
 * Initiator-facing task control on the scheduler (9.7, 9.9, S4, SB6): `task_ops_control` and
 * `task_status_query` sent to the scheduler's own `POST /System/Command` name a task it planned
 * (or one of its subtasks). Controls fan out to the executors running the subtasks; status
 * answers come from what the executors reported.
 */
import { CommandType, Control, EXECUTION_STATUS_VALUES, ExecutionStatus, ExtendedExceptionCode, HierarchicalQuery, TaskOpsControlReply, type DevTaskStatus, type OpsControl, type TaskBasicInfo, type TaskDispatchInfo, type TaskStatus, type TaskStatusQuery, EXCEPTION_DESC_MAX_BYTES, cutUtf8 } from '../protocol/index.ts';
import type { RetinaClient } from '../net/client.ts';
import type { Logger } from '../log.ts';
import { ACTIVE_STATUSES, type SchedulerStateStore, type SubtaskRow } from './store.ts';

const ACTIVE = ACTIVE_STATUSES;
export const STOPPED_DESC = 'stopped by task_ops_control';

export interface ControlContext {
  store: SchedulerStateStore;
  client: RetinaClient;
  log: Logger;
  deviceId: string;
  /** Tasks and subtasks an initiator stopped: not retried or migrated any more. */
  stopped: Set<string>;
  /** Re-derives the parent task's status after subtasks changed here. */
  updateTaskStatus(taskId: string): void;
}

/**
 * The subtasks an OpsControl names: all of a task's, or the one subtask. Table 23's DeviceID
 * narrows a task to the subtasks on that executor when it runs some of them (9.7); any other
 * DeviceID (the scheduler's own, the initiator's) leaves the whole task.
 */
function targets(ctx: ControlContext, taskId: string, deviceId: string): { taskId: string; subs: SubtaskRow[] } | null {
  if (ctx.store.task(taskId)) {
    const all = ctx.store.subtasks(taskId);
    const onDevice = all.filter((s) => s.device_id === deviceId);
    return { taskId, subs: onDevice.length ? onDevice : all };
  }
  const sub = ctx.store.subtask(taskId);
  return sub ? { taskId: sub.task_id, subs: [sub] } : null;
}

/** Applies each control; returns one problem per control that failed, naming task and executor. */
export async function applyControls(ctx: ControlContext, list: OpsControl[]): Promise<string[]> {
  const problems: string[] = [];
  for (const op of list) {
    const t = targets(ctx, op.TaskID, op.DeviceID ?? '');
    if (!t) { problems.push(`TaskID: no task or subtask "${op.TaskID}" on this scheduler`); continue; }
    if (op.Control === Control.UpdateArgs && !op.AlgArgs) { problems.push(`task ${op.TaskID}: AlgArgs is required with Control 4`); continue; }
    // A stopped task or subtask is not retried or migrated any more; a start lifts that.
    if (op.Control === Control.Stop) {
      const whole = t.subs.length === ctx.store.subtasks(t.taskId).length;
      for (const id of whole ? [op.TaskID] : t.subs.map((x) => x.subtask_id)) ctx.stopped.add(id);
    }
    if (op.Control === Control.Start) for (const id of [op.TaskID, t.taskId, ...t.subs.map((x) => x.subtask_id)]) ctx.stopped.delete(id);
    // A task with nothing placed yet (waiting for a slot, SB5) ends here, stopped: it will not start.
    if (op.Control === Control.Stop && !t.subs.length) ctx.store.setTaskStatus(t.taskId, ExecutionStatus.Done, ExtendedExceptionCode.Stopped, STOPPED_DESC);
    for (const s of t.subs) {
      const why = await controlSubtask(ctx, s, op);
      if (why) problems.push(`subtask ${s.subtask_id}: ${why}`);
    }
    ctx.updateTaskStatus(t.taskId);
  }
  return problems;
}

async function controlSubtask(ctx: ControlContext, s: SubtaskRow, op: OpsControl): Promise<string | null> {
  if (op.Control === Control.UpdateArgs) {
    // Kept in the dispatch info too, so a retry or migration runs with the new arguments.
    const info = JSON.parse(s.dispatch_info) as TaskDispatchInfo;
    ctx.store.setSubtaskDispatch(s.subtask_id, { ...info, InputInfo: { ...info.InputInfo, AlgArgs: { ...(info.InputInfo.AlgArgs ?? {}), ...op.AlgArgs } } });
  }
  const active = ACTIVE.includes(s.status);
  if (!active && op.Control !== Control.Start) return null; // finished: nothing to pause, resume, stop or update
  const dev = ctx.store.device(s.device_id);
  if (!dev?.command_url || !dev.online) {
    // Nobody runs it (waiting for a retry, or its executor is gone): a stop ends it here.
    if (op.Control === Control.Stop) {
      ctx.store.setSubtaskStatus(s.subtask_id, { status: ExecutionStatus.Done, exceptionCode: ExtendedExceptionCode.Stopped, exceptionDesc: STOPPED_DESC });
      return null;
    }
    if (op.Control === Control.UpdateArgs) return null;
    return `its executor ${s.device_id} is not reachable`;
  }
  try {
    await ctx.client.sendCommand(dev.command_url, {
      CommandType: CommandType.TaskOpsControl, DeviceID: dev.device_id,
      MessageBody: { OpsControlList: [{ DeviceID: dev.device_id, TaskID: s.subtask_id, Control: op.Control, ...(op.AlgArgs ? { AlgArgs: op.AlgArgs } : {}) }] },
    }, TaskOpsControlReply);
    ctx.log.info({ subtask: s.subtask_id, device: dev.device_id, control: op.Control }, 'task_ops_control forwarded');
    return null;
  } catch (err) {
    return `${dev.device_id}: ${(err as Error).message}`;
  }
}

function subtaskStatus(s: SubtaskRow): TaskStatus {
  const info = JSON.parse(s.dispatch_info) as TaskDispatchInfo;
  const st: TaskStatus = { TaskID: s.subtask_id, ParentTaskID: s.task_id, ExecutionStatus: s.status as TaskStatus['ExecutionStatus'], Progress: s.progress };
  if (info.TaskName) st.TaskName = info.TaskName.slice(0, 128);
  if (info.TaskType !== undefined) st.TaskType = info.TaskType;
  if (s.exception_code !== null) st.ExceptionCode = s.exception_code as TaskStatus['ExceptionCode'];
  if (s.exception_desc) st.ExceptionDesc = cutUtf8(s.exception_desc, EXCEPTION_DESC_MAX_BYTES);
  return st;
}

/**
 * `task_status_query` to the scheduler. A DeviceList entry naming the scheduler asks for its
 * tasks (those in TaskIDList, or the unfinished ones); with HierarchicalQuery "1" each task's
 * subtasks follow, grouped by the executor that runs them. An entry naming an executor asks for
 * the subtasks the scheduler placed there. No DeviceList: the scheduler's unfinished tasks.
 */
export function queryStatus(ctx: ControlContext, q: TaskStatusQuery['MessageBody']): DevTaskStatus[] {
  const entries = q.DeviceList?.length ? q.DeviceList : [{ DeviceID: ctx.deviceId, HierarchicalQuery: HierarchicalQuery.No }];
  const out: DevTaskStatus[] = [];
  for (const e of entries) {
    const wanted = e.TaskIDList?.length ? new Set(e.TaskIDList) : null;
    if (e.DeviceID === ctx.deviceId) {
      const tasks = wanted ? [...wanted].map((id) => ctx.store.task(id)).filter((x) => x !== undefined) : ctx.store.tasksByStatus(ACTIVE);
      out.push({ DeviceID: ctx.deviceId, TaskStatusList: tasks.map((t) => {
        const basic = JSON.parse(t.basic_info) as TaskBasicInfo;
        const subs = ctx.store.subtasks(t.task_id);
        const st: TaskStatus = { TaskID: t.task_id, TaskName: basic.TaskName, ExecutionStatus: t.status as TaskStatus['ExecutionStatus'],
          Progress: subs.length ? Math.round(subs.reduce((a, s) => a + s.progress, 0) / subs.length) : 0 };
        if (basic.TaskType !== undefined) st.TaskType = basic.TaskType;
        if (t.exception_code !== null) st.ExceptionCode = t.exception_code as TaskStatus['ExceptionCode'];
        if (t.exception_desc) st.ExceptionDesc = cutUtf8(t.exception_desc, EXCEPTION_DESC_MAX_BYTES);
        return st;
      }) });
      if (e.HierarchicalQuery === HierarchicalQuery.Yes) {
        const byDevice = new Map<string, TaskStatus[]>();
        for (const t of tasks) for (const s of ctx.store.subtasks(t.task_id)) {
          if (s.device_id === '-') continue;
          byDevice.set(s.device_id, [...(byDevice.get(s.device_id) ?? []), subtaskStatus(s)]);
        }
        for (const [DeviceID, TaskStatusList] of byDevice) out.push({ DeviceID, TaskStatusList });
      }
    } else if (ctx.store.device(e.DeviceID)) {
      const subs = ctx.store.subtasksOnDevice(e.DeviceID, wanted ? EXECUTION_STATUS_VALUES : ACTIVE).filter((s) => !wanted || wanted.has(s.subtask_id) || wanted.has(s.task_id));
      out.push({ DeviceID: e.DeviceID, TaskStatusList: subs.map(subtaskStatus) });
    }
  }
  return out;
}
