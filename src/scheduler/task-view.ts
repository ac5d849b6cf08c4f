/**
 * What initiators see of a task (Annex A, table 31) and are told: the TaskInfo view, the task's
 * ExecutionStatus derived from its subtasks (pushed to NotifyURL and MQTT when it changes), and
 * results stored once per sender + CommandIdx, within a quota per task, and forwarded.
 */
import { CommandType, ExceptionCode, ExecutionStatus, ExtendedExceptionCode, formatRetinaDateTime, type CustomInfo, type SubtaskInfo, type TaskBasicInfo, type TaskDispatchInfo, type TaskInfo, type TaskResult, type TaskResultBody, type TaskStatus, EXCEPTION_DESC_MAX_BYTES, cutUtf8 } from '../protocol/index.ts';
import { notifyKey } from '../net/notify-signature.ts';
import type { Logger } from '../log.ts';
import type { SchedulerStateStore, SubtaskRow, TaskRow } from './store.ts';
import { dependentsOf } from './orchestration/edges.ts';
import type { DeviceRegistry } from './devices.ts';
import type { Notifier } from './notifier.ts';
import { taskTopologyPath } from './orchestration/record.ts';

export interface TaskViewDeps {
  o: { deviceId: string; maxResultsPerTask?: number };
  log: Logger;
  store: SchedulerStateStore;
  devices: DeviceRegistry;
  notifier: Notifier;
  /**
   * Where results and status changes are also published: MQTT, and the cascade's relay upwards.
   * The body is made only when someone takes it (a status costs a read of the task's subtasks).
   */
  mqtt: { publish(taskId: string, what: 'results' | 'status', body: () => unknown): void } | null;
  /** Signs NotifyURL pushes (one derived key per task). */
  notifySecret: Buffer;
  /** Turns training results into published model versions (trained-models.ts). */
  trained?: { onResult(taskId: string, body: TaskResultBody): void };
  /** Told when a task reaches a final status (its slot is free, SB5). */
  ended?: (taskId: string) => void;
  /** Told each time a task's status (or its ExceptionDesc) changes: tasks held for it may start (M3). */
  changed?: (taskId: string, status: number) => void;
}

/**
 * Whether a subtask sends its results to the stages after it only, not to this scheduler. A
 * subtask mirrored from the upper scheduler (B.3) names that one and feeds nothing here; only a
 * task with stages has stages after (checked before reading every subtask's Dependencies).
 */
function intermediate(store: SchedulerStateStore, task: TaskRow, sub: SubtaskRow, self: string): boolean {
  if ((JSON.parse(sub.dispatch_info) as TaskDispatchInfo).DstDeviceList.some((x) => x.DeviceID === self)) return false;
  return (JSON.parse(task.custom_info) as CustomInfo).Topology !== undefined && dependentsOf(store, sub.task_id, sub.subtask_id).length > 0;
}

/** Tasks whose NotifyURL is kept parsed (the oldest go first). */
const NOTIFY_URLS_KEPT = 4096;
/** Tasks whose result count is kept (the least recently counted go first, and are counted from the store again when a result comes). */
const RESULT_COUNTS_KEPT = 16_384;

/** Sets `key` as the newest entry of `m`, dropping the oldest first when `m` already holds `max`. */
function keepBounded<V>(m: Map<string, V>, key: string, value: V, max: number): void {
  m.delete(key);
  if (m.size >= max) m.delete(m.keys().next().value!);
  m.set(key, value);
}

export class TaskView {
  /** Results stored per task (read from the store once, then counted here); bounded, so a scheduler that runs for months does not grow with every task it ever ran. */
  private readonly resultCounts = new Map<string, number>();

  constructor(private readonly d: TaskViewDeps) {}

  /** A deleted task's count goes with it: a task given the same TaskID later (a cascade's fixed IDs) starts from none. */
  forgetTask(taskId: string): void {
    this.resultCounts.delete(taskId);
  }

  private countResults(taskId: string, n: number): void {
    keepBounded(this.resultCounts, taskId, n, RESULT_COUNTS_KEPT);
  }

  /** Derives the task's ExecutionStatus from its subtasks and tells the initiator when it changes. */
  update(taskId: string): void {
    const subs = this.d.store.subtasks(taskId);
    if (!subs.length) return;
    const has = (s: number) => subs.some((x) => x.status === s);
    let status: number;
    let code: number | null = null;
    let desc: string | null = null;
    if (has(ExecutionStatus.Error)) {
      // The real cause first: a subtask rolled back because of another (30) is not why the task failed.
      const failed = subs.filter((x) => x.status === ExecutionStatus.Error);
      const bad = failed.find((x) => x.exception_code !== ExceptionCode.UpstreamFailed) ?? failed[0]!;
      status = ExecutionStatus.Error;
      code = bad.exception_code;
      desc = `subtask ${bad.subtask_id}: ${bad.exception_desc ?? ''}`;
    } else if (subs.every((x) => x.status === ExecutionStatus.Done)) {
      status = ExecutionStatus.Done;
      // Ended by a Stop: its own state (ExceptionCode 90), not "completed" — unless nothing was stopped.
      const stopped = subs.find((x) => x.exception_code === ExtendedExceptionCode.Stopped);
      if (stopped) { code = ExtendedExceptionCode.Stopped; desc = stopped.exception_desc; }
    }
    else if (has(ExecutionStatus.Running)) status = ExecutionStatus.Running;
    else if (has(ExecutionStatus.Paused)) status = ExecutionStatus.Paused;
    else if (has(ExecutionStatus.Done)) status = ExecutionStatus.Running; // some finished, others waiting
    else status = ExecutionStatus.Queued;
    if (this.d.store.setTaskStatus(taskId, status, code, desc)) {
      // Every change at debug (thousands a second at fleet scale); how a task ended at info.
      this.d.log[status === ExecutionStatus.Done || status === ExecutionStatus.Error ? 'info' : 'debug']({ task: taskId, status }, 'task status');
      this.notifyStatus(taskId);
      if (status === ExecutionStatus.Done || status === ExecutionStatus.Error) this.d.ended?.(taskId);
      this.d.changed?.(taskId, status);
    }
  }

  /** NotifyURL by the task's CustomInfo text, parsed once (every status change asks; the text never changes). */
  private readonly notifyUrls = new Map<string, string | undefined>();

  private notifyUrl(task: TaskRow): string | undefined {
    const text = task.custom_info;
    if (this.notifyUrls.has(text)) return this.notifyUrls.get(text);
    const url = (JSON.parse(text) as CustomInfo).NotifyURL;
    keepBounded(this.notifyUrls, text, url, NOTIFY_URLS_KEPT);
    return url;
  }

  /** Table 31 status of the whole task. */
  taskStatus(task: TaskRow): TaskStatus {
    const basic = JSON.parse(task.basic_info) as TaskBasicInfo;
    const subs = this.d.store.subtasks(task.task_id);
    const progress = subs.length ? Math.round(subs.reduce((s, x) => s + x.progress, 0) / subs.length) : 0;
    const st: TaskStatus = { TaskID: task.task_id, TaskName: basic.TaskName, ExecutionStatus: task.status as TaskStatus['ExecutionStatus'], Progress: progress,
      ResourcesOccupied: { Results: this.d.store.resultCount(task.task_id) } };
    if (basic.TaskType !== undefined) st.TaskType = basic.TaskType;
    if (task.exception_code !== null) st.ExceptionCode = task.exception_code;
    if (task.exception_desc) st.ExceptionDesc = cutUtf8(task.exception_desc, EXCEPTION_DESC_MAX_BYTES);
    return st;
  }

  /** Tells the initiator (NotifyURL, MQTT) the task's status now. */
  notifyStatus(taskId: string): void {
    const task = this.d.store.task(taskId);
    if (!task) return;
    const url = this.notifyUrl(task);
    let made: TaskStatus | undefined;
    const status = () => (made ??= this.taskStatus(task));
    if (url) this.d.notifier.push(url, { method: 'PATCH', path: '/System/TaskStatus/', body: { DeviceID: this.d.o.deviceId, TaskStatusList: [status()] }, key: notifyKey(this.d.notifySecret, taskId) });
    this.d.mqtt?.publish(taskId, 'status', status);
  }

  /** Table A.1 record with its A.2 subtasks. */
  taskInfo(taskId: string): TaskInfo | undefined {
    const t = this.d.store.task(taskId);
    if (!t) return undefined;
    const basic = JSON.parse(t.basic_info) as TaskBasicInfo;
    const subs = this.d.store.subtasks(taskId);
    const fmt = (ms: number) => formatRetinaDateTime(ms);
    const info: TaskInfo = {
      TaskID: t.task_id,
      TaskName: basic.TaskName,
      ExecutionStatus: t.status as TaskInfo['ExecutionStatus'],
      DeviceList: [...new Set(subs.map((s) => s.device_id).filter((d) => d !== '-'))],
      CreateInfo: { CreateTime: fmt(t.created_at), UpdateTime: fmt(t.updated_at), ...(basic.InitiationInfo.Applicant ? { Applicant: basic.InitiationInfo.Applicant } : {}) },
      SubtaskInfoList: subs.map((s): SubtaskInfo => {
        const dev = this.d.devices.row(s.device_id);
        const status: SubtaskInfo['TaskStatusInfo'] = { ExecutionStatus: s.status as SubtaskInfo['TaskStatusInfo']['ExecutionStatus'], Progress: s.progress };
        if (s.exception_code !== null) status.ExceptionCode = s.exception_code;
        if (s.exception_desc) status.ExceptionDesc = cutUtf8(s.exception_desc, EXCEPTION_DESC_MAX_BYTES);
        return {
          TaskExecutor: { DeviceID: s.device_id === '-' ? '-' : s.device_id, ...(dev ? { DeviceType: dev.device_type } : {}), ...(dev?.device_name ? { DeviceName: dev.device_name } : {}) },
          TaskDispatchInfo: JSON.parse(s.dispatch_info) as TaskDispatchInfo,
          CreateTime: fmt(s.created_at),
          UpdateTime: fmt(s.updated_at),
          TaskStatusInfo: status,
        };
      }),
    };
    if (basic.Desc !== undefined) info.Desc = basic.Desc;
    if (basic.TaskType !== undefined) info.TaskType = basic.TaskType;
    if (basic.Priority !== undefined) info.Priority = basic.Priority;
    if (basic.Constraints !== undefined) info.Constraints = basic.Constraints;
    // Table A.1 TaskTopology identifies where the task's DAG is kept: its record's path here.
    if ((JSON.parse(t.custom_info) as CustomInfo).Topology) info.TaskTopology = taskTopologyPath(taskId);
    return info;
  }

  /** Stores a task_result (once per sender + CommandIdx) and forwards it to the initiator. */
  onTaskResult(cmd: TaskResult, sender: string, fromDevice?: string): { ok: true; fresh: boolean } | { ok: false; message: string } {
    const body: TaskResultBody = cmd.MessageBody;
    const sub = this.d.store.subtask(body.TaskID);
    // A device session sends results only for subtasks it runs now (issue 10: no forged results).
    if (fromDevice !== undefined && (!sub || sub.device_id !== fromDevice || body.DeviceID !== fromDevice)) {
      return { ok: false, message: `MessageBody.TaskID: "${body.TaskID}" is not a subtask device ${fromDevice} runs (results come only from a subtask's current executor, as itself)` };
    }
    const taskId = sub?.task_id ?? (this.d.store.task(body.TaskID) ? body.TaskID : undefined);
    if (!taskId) return { ok: false, message: `MessageBody.TaskID: "${body.TaskID}" is not a task of this scheduler` };
    // A quota per task: a runaway or hostile stage cannot fill the disk through one task.
    const quota = this.d.o.maxResultsPerTask ?? 1_000_000;
    const held = this.resultCounts.get(taskId) ?? this.d.store.resultCount(taskId);
    if (held >= quota) {
      if (held === quota) { this.d.log.warn({ task: taskId, quota }, 'task reached its result quota; further results are refused'); this.countResults(taskId, quota + 1); }
      return { ok: false, message: `MessageBody.TaskID: task ${taskId} holds its quota of ${quota} results; no more are stored` };
    }
    const key = cmd.CommandIdx === undefined ? null : `${sender}#${cmd.CommandIdx}`;
    const fresh = this.d.store.insertResult(taskId, body, key);
    if (fresh) {
      this.countResults(taskId, held + 1);
      this.d.mqtt?.publish(taskId, 'results', () => body);
      this.d.trained?.onResult(taskId, body);
      const task = this.d.store.task(taskId)!;
      // A stage's result meant for the stages after it (cascade B.2: relayed here by a lower
      // scheduler, then passed on) is not the task's result: the initiator is not sent it.
      const url = sub && intermediate(this.d.store, task, sub, this.d.o.deviceId) ? undefined : this.notifyUrl(task);
      if (url) this.d.notifier.push(url, { method: 'POST', path: '/System/Command', body: { CommandType: CommandType.TaskResult, DeviceID: this.d.o.deviceId, MessageBody: body }, key: notifyKey(this.d.notifySecret, taskId) });
    }
    return { ok: true, fresh };
  }

}
