/**
 * The executor's side of clause 9: one handler per command it accepts (tables 2, 5, 12, 19,
 * 22, 25, 28). Each handler reads the command, asks the room that knows (admission, installer,
 * queue, routing, store) and answers; none of them touches HTTP or SQLite itself.
 */
import {
  CommandType, Control, ExecutionStatus,
  type AlgorithmResQuery, type AvailableResQuery, type CommandHandlers, type CommandReplyBody, type OpsControl, type TaskDispatch,
  type TaskDispatchInfo, type TaskOpsControl, type TaskResult, type TaskResultBody, type TaskStatusQuery, type TotalResQuery,
} from '../protocol/index.ts';
import { matchesResourceFilters, needsTotal } from '../protocol/resource-filters.ts';
import type { Logger } from '../log.ts';
import type { Admission } from './admission.ts';
import type { AlgorithmCatalogue } from './catalogue.ts';
import type { ExecTask } from './exec-task.ts';
import type { FeatureIndex } from './feature-index.ts';
import type { Installer } from './installer.ts';
import type { Outbox } from './outbox.ts';
import type { ResourceMonitor } from './resources.ts';
import { sameWork, type Routing } from './routing.ts';
import { resumedPastOwn } from './resume-floor.ts';
import { isUpdate } from './task-update.ts';
import type { TaskQueue } from './task-queue.ts';
import type { TaskRuns } from './task-runs.ts';
import type { TaskStore } from './task-store.ts';
import type { UrlGuard } from './url-guard.ts';

export interface CommandRooms {
  deviceId: string;
  /** Where this executor registered (the Longitude/Latitude filters of tables 2 and 5). */
  location?: { longitude?: string; latitude?: string };
  monitor: ResourceMonitor;
  catalogue: AlgorithmCatalogue;
  store: TaskStore;
  admission: Admission;
  installer: Installer;
  queue: TaskQueue;
  runs: TaskRuns;
  routing: Routing;
  outbox: Outbox;
  features: FeatureIndex;
  urlGuard: UrlGuard;
  /** Persists the task and reports its status. */
  changed(t: ExecTask): void;
  log: Logger;
}

/** Handlers for `POST /System/Command`. */
export function commandHandlers(r: CommandRooms): CommandHandlers {
  return {
    [CommandType.TotalResQuery]: (c) => onTotalResQuery(r, c),
    [CommandType.AvailableResQuery]: (c) => onAvailableResQuery(r, c),
    [CommandType.AlgorithmResQuery]: (c) => onAlgorithmResQuery(r, c),
    [CommandType.TaskDispatch]: (c) => onTaskDispatch(r, c),
    [CommandType.TaskOpsControl]: (c) => onTaskOpsControl(r, c),
    [CommandType.TaskStatusQuery]: (c) => onTaskStatusQuery(r, c),
    [CommandType.TaskResult]: (c, ctx) => onTaskResult(r, c, ctx.sender),
  };
}

/** True when a DeviceList filter (absent = everyone) names this executor. */
function selected(r: CommandRooms, list?: Array<{ DeviceID: string }>): boolean {
  return !list || list.length === 0 || list.some((d) => d.DeviceID === r.deviceId);
}

async function onTotalResQuery(r: CommandRooms, c: TotalResQuery): Promise<CommandReplyBody> {
  const body = c.MessageBody;
  if (!selected(r, body.DeviceList)) return { StatusCode: '0', TotalResourceList: [] };
  const total = await r.monitor.total();
  return { StatusCode: '0', TotalResourceList: matchesResourceFilters(body, total, r.location) ? [total] : [] };
}

/** Table 5 has table 2's filters: applied to this executor too (its TotalResource read only when a filter needs it). */
async function onAvailableResQuery(r: CommandRooms, c: AvailableResQuery): Promise<CommandReplyBody> {
  const body = c.MessageBody;
  if (!selected(r, body.DeviceList)) return { StatusCode: '0', AvailableResourceList: [] };
  const total = needsTotal(body) ? await r.monitor.total() : undefined;
  if (!matchesResourceFilters(body, total, r.location)) return { StatusCode: '0', AvailableResourceList: [] };
  return { StatusCode: '0', AvailableResourceList: [await r.monitor.available()] };
}

/** True when an unfinished task runs that algorithm version (AlgStatus 0, in use). */
function algorithmInUse(store: TaskStore, id: number, v: string): boolean {
  for (const t of store.all()) if (!t.finished && t.info.AlgModelInfo.AlgID === id && t.info.AlgModelInfo.AlgVersion === v) return true;
  return false;
}

async function onAlgorithmResQuery(r: CommandRooms, c: AlgorithmResQuery): Promise<CommandReplyBody> {
  if (!selected(r, c.MessageBody.DeviceList)) return { StatusCode: '0', AlgResourceList: [] };
  const inUse = (id: number, v: string) => algorithmInUse(r.store, id, v);
  return { StatusCode: '0', AlgResourceList: [{ DeviceID: r.deviceId, AlgInfoList: r.catalogue.algInfoList(inUse) }] };
}

async function onTaskDispatch(r: CommandRooms, c: TaskDispatch): Promise<CommandReplyBody> {
  if (c.DeviceID !== r.deviceId) return { StatusCode: '1', Message: `DeviceID: this executor is "${r.deviceId}", not "${c.DeviceID}"` };
  const list = c.MessageBody.TaskDispatchList;
  // The URLs a dispatch names are checked before anything is fetched or opened (issue 10).
  for (const t of list) {
    const bad = await r.urlGuard.problem(t);
    if (bad) return { StatusCode: '1', Message: `task ${t.TaskID}: ${bad}` };
  }
  const fetchProblem = await r.installer.fetchMissing(list);
  if (fetchProblem) return { StatusCode: '1', Message: fetchProblem };
  const ids = new Set<string>();
  const redirects: Array<[ExecTask, TaskDispatchInfo]> = [];
  const updates: Array<[ExecTask, TaskDispatchInfo]> = [];
  for (const t of list) {
    if (ids.has(t.TaskID)) return { StatusCode: '1', Message: `TaskDispatchList: TaskID "${t.TaskID}" appears twice` };
    ids.add(t.TaskID);
    const existing = r.store.get(t.TaskID);
    // The same work again: the scheduler moved the next stage (new destinations), or placed the
    // task back here after it thought this executor lost (same destinations; it keeps running).
    // A finished task is re-pointed only to replay its results (ReplayFromMs), never re-run.
    const replayOnly = !!existing?.finished && existing.status === ExecutionStatus.Done && typeof t.InputInfo.AlgArgs?.ReplayFromMs === 'number';
    // SB2: the same input with another version or arguments updates the running task in place.
    if (existing && !existing.finished && isUpdate(existing.info, t)) {
      const why = r.admission.check(t, { updating: true });
      if (why) return { StatusCode: '1', Message: `task ${t.TaskID}: ${why}` };
      updates.push([existing, t]);
      continue;
    }
    if (existing && (!existing.finished || replayOnly) && sameWork(existing.info, t)) { redirects.push([existing, t]); continue; }
    const why = r.admission.check(t);
    if (why) return { StatusCode: '1', Message: `task ${t.TaskID}: ${why}` };
  }
  // All or nothing: every task of the command was checked before any is accepted.
  for (const [task, info] of redirects) r.routing.redirect(task, info);
  // A finished stage answers once what it sent again is delivered: the scheduler then tells
  // the moved next stage to finish, and that must not overtake the replay.
  for (const [task] of redirects) if (task.finished) await r.outbox.flush(task.id, 30_000);
  for (const [task, info] of updates) {
    r.runs.update(task, info);
    r.store.save(task);
    r.routing.report(task);
    r.log.info({ task: task.id, version: info.AlgModelInfo.AlgVersion }, 'task updated in place');
  }
  for (const info of list) {
    if (redirects.some(([task]) => task.id === info.TaskID) || updates.some(([task]) => task.id === info.TaskID)) continue;
    const failed = r.store.get(info.TaskID);
    const resumed = resumedPastOwn(failed, info, r.deviceId);
    if (resumed !== info) r.log.info({ task: info.TaskID, asked: info.InputInfo.AlgArgs?.StartOffsetMs ?? 0, from: resumed.InputInfo.AlgArgs?.StartOffsetMs }, 'retry resumes after the results this executor already queued');
    r.routing.report(r.store.add(resumed));
  }
  r.log.info({ tasks: [...ids] }, 'task_dispatch accepted');
  r.queue.schedule();
  return { StatusCode: '0' };
}

async function onTaskOpsControl(r: CommandRooms, c: TaskOpsControl): Promise<CommandReplyBody> {
  const problems: string[] = [];
  for (const op of c.MessageBody.OpsControlList) {
    if (op.DeviceID && op.DeviceID !== r.deviceId) continue;
    const why = applyControl(r, op);
    if (why) problems.push(`task ${op.TaskID}: ${why}`);
  }
  return problems.length ? { StatusCode: '1', Message: problems.join('; ') } : { StatusCode: '0' };
}

/** Applies one OpsControl; returns why it could not, or null. */
function applyControl(r: CommandRooms, op: OpsControl): string | null {
  const t = r.store.get(op.TaskID);
  if (!t) return 'TaskID: no such task on this executor';
  switch (op.Control) {
    case Control.Start:
      if (t.status === ExecutionStatus.Running || t.status === ExecutionStatus.Queued) return null;
      if (t.status === ExecutionStatus.Paused) return applyControl(r, { ...op, Control: Control.Resume });
      t.transition(ExecutionStatus.Queued);
      r.changed(t);
      r.queue.schedule();
      return null;
    case Control.Stop:
      if (t.finished) return null;
      if (r.runs.isDownstream(t)) {
        // A downstream stage finishes what it has received, then reports done itself.
        r.runs.closeInput(t);
        return null;
      }
      r.runs.halt(t);
      t.transition(ExecutionStatus.Done);
      t.exceptionDesc = 'stopped by task_ops_control';
      r.changed(t);
      r.queue.schedule();
      return null;
    case Control.Pause:
      if (t.status !== ExecutionStatus.Running) return `Control: only a running task can be paused (ExecutionStatus is ${t.status})`;
      t.transition(ExecutionStatus.Paused);
      r.changed(t);
      return null;
    case Control.Resume:
      if (t.status !== ExecutionStatus.Paused) return `Control: only a paused task can be resumed (ExecutionStatus is ${t.status})`;
      t.transition(ExecutionStatus.Running);
      r.changed(t);
      return null;
    case Control.UpdateArgs:
      if (!op.AlgArgs) return 'AlgArgs: is required with Control 4';
      t.algArgs = { ...t.algArgs, ...op.AlgArgs };
      r.store.save(t);
      return null;
    default:
      return `Control: ${String(op.Control)} is not one of 0-4`;
  }
}

async function onTaskStatusQuery(r: CommandRooms, c: TaskStatusQuery): Promise<CommandReplyBody> {
  const list = c.MessageBody.DeviceList;
  if (list && list.length && !list.some((d) => d.DeviceID === r.deviceId)) return { StatusCode: '0', TaskStatusSet: [] };
  const mine = list?.find((d) => d.DeviceID === r.deviceId);
  const wanted = mine?.TaskIDList && mine.TaskIDList.length ? new Set(mine.TaskIDList) : null;
  const statuses = [...r.store.all()].filter((t) => !wanted || wanted.has(t.id)).map((t) => t.toStatus());
  return { StatusCode: '0', TaskStatusSet: [{ DeviceID: r.deviceId, TaskStatusList: statuses }] };
}

/** ED2: results other executors send here are kept, and their features indexed for retrieval. */
async function onTaskResult(r: CommandRooms, c: TaskResult, sender: string): Promise<CommandReplyBody> {
  r.store.saveReceived(c.MessageBody, sender);
  indexFeatures(r.features, c.MessageBody);
  // Results of an upstream stage feed the downstream tasks that depend on it.
  const dependents = [...r.store.all()].filter((t) => !t.finished && t.info.Dependencies?.some((d) => d.TaskID === c.MessageBody.TaskID));
  r.runs.feed(c.MessageBody, dependents);
  return { StatusCode: '0' };
}

/** ED2: the feature vectors of a received result, searchable by its parent task. */
export function indexFeatures(features: FeatureIndex, b: TaskResultBody): void {
  for (const a of b.TaskResultData.AnalysisResult ?? []) {
    const v = (a.FeatureInfo as { Vector?: unknown } | undefined)?.Vector;
    if (v !== undefined) features.add(b.ParentTaskID ?? b.TaskID, v, { TaskID: b.TaskID, DeviceID: b.DeviceID, Ts: b.Ts, Pts: (a.ResultData as { Pts?: number } | undefined)?.Pts });
  }
}
