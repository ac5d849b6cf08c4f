/**
 * B.2 step 3: a subtask the upper scheduler dispatched to this (lower) scheduler is planned and
 * placed here, among its own executors, as a local task under the same TaskID. The dispatch
 * (table 20) is read back into a TaskRequest (table 17 + PROTOCOL.md's CustomInfo): its stream,
 * algorithm, arguments (StartOffsetMs of a resumed subtask included), frame rate and time
 * window, and the task's Constraints (in ExecutionCond.ExtendedInfo, subtask-plan.ts), so the
 * placement here honours them too. A stage fed by another subtask's results (no StreamURL,
 * Dependencies naming its upstreams) is placed here as one subtask with those Dependencies; the
 * upper scheduler forwards the upstreams' results here and this scheduler passes them on to the
 * executor it chose (FedStages). The reply says whether this site can take it; placement runs
 * in the background and its outcome reaches the upper scheduler as the subtask's status.
 */
import { type CommandReplyBody, type CustomInfo, type TaskBasicInfo, type TaskDispatch, type TaskDispatchInfo } from '../../protocol/index.ts';
import { ACTIVE_STATUSES, type SchedulerStateStore } from '../store.ts';
import type { SubmitOutcome } from '../options.ts';
import type { CascadeLinks } from './links.ts';

export interface FromAboveDeps {
  deviceId: string;
  store: SchedulerStateStore;
  links: CascadeLinks;
  now(): number;
  submit(basic: TaskBasicInfo, taskId: string): Promise<SubmitOutcome>;
  /** A results-fed stage: placed as one subtask keeping `d`'s Dependencies. */
  submitFed(basic: TaskBasicInfo, taskId: string, d: TaskDispatchInfo): Promise<SubmitOutcome>;
  /** Deletes an ended local task (a subtask dispatched here again after it failed here). */
  forget(taskId: string): Promise<void>;
  /** Sends the current status upwards (a re-dispatch of work already running here). */
  announce(taskId: string): void;
}

/**
 * The Constraints the upper scheduler passed down with a dispatch. DeployOn stays above: it named
 * that level's device (this site), which the dispatch already reached.
 */
export function constraintsOf(d: TaskDispatchInfo): Record<string, unknown> | undefined {
  const c = d.ExecutionCond?.ExtendedInfo?.Constraints;
  if (c === undefined || c === null || typeof c !== 'object' || Array.isArray(c)) return undefined;
  const out = { ...(c as Record<string, unknown>) };
  delete out.DeployOn;
  return out;
}

/** Table 20 → TaskBasicInfo with CustomInfo (`fed`: a stage fed by other subtasks' results), or why this site cannot run it. */
export function requestOf(d: TaskDispatchInfo, upperId: string): { ok: true; basic: TaskBasicInfo; fed: boolean } | { ok: false; message: string } {
  const fed = !d.InputInfo.StreamURL;
  if (fed && !d.Dependencies?.length) {
    return { ok: false, message: `task ${d.TaskID}: InputInfo.StreamURL: needed, or Dependencies naming the subtasks whose results feed it` };
  }
  const custom: CustomInfo = { Inputs: fed ? [] : [{ StreamURL: d.InputInfo.StreamURL! }], AlgID: d.AlgModelInfo.AlgID, TaskAttr: d.TaskAttr };
  if (d.InputInfo.AlgArgs) custom.AlgArgs = d.InputInfo.AlgArgs;
  if (d.InputInfo.TaskFrameRate !== undefined) custom.TaskFrameRate = d.InputInfo.TaskFrameRate;
  if (d.ExecutionCond?.TimeRange?.length) custom.TimeRange = d.ExecutionCond.TimeRange as CustomInfo['TimeRange'];
  const basic: TaskBasicInfo = { TaskName: d.TaskName ?? d.TaskID.slice(0, 128), InitiationInfo: { DeviceID: upperId, CustomInfo: custom as Record<string, unknown> } };
  if (d.TaskType !== undefined) basic.TaskType = d.TaskType;
  if (d.Priority !== undefined) basic.Priority = d.Priority;
  if (d.Desc !== undefined) basic.Desc = d.Desc;
  const constraints = constraintsOf(d);
  if (constraints) basic.Constraints = constraints;
  return { ok: true, basic, fed };
}

/** `task_dispatch` to a scheduler: each subtask becomes a local task (or is already one). */
export async function onDispatchFromAbove(x: FromAboveDeps, c: TaskDispatch, upperId: string): Promise<CommandReplyBody> {
  if (c.DeviceID !== x.deviceId) return { StatusCode: '1', Message: `DeviceID: this scheduler is "${x.deviceId}", not "${c.DeviceID}"` };
  const problems: string[] = [];
  for (const d of c.MessageBody.TaskDispatchList) {
    const cur = x.store.task(d.TaskID);
    if (cur && !x.links.has(d.TaskID)) { problems.push(`task ${d.TaskID}: TaskID is a task of this scheduler's own initiators`); continue; }
    if (cur && ACTIVE_STATUSES.includes(cur.status)) {
      // The same subtask again (a lost reply, or the upper scheduler thought us gone and came back): it runs on.
      x.announce(d.TaskID);
      continue;
    }
    const req = requestOf(d, upperId);
    if (!req.ok) { problems.push(req.message); continue; }
    if (cur) await x.forget(d.TaskID);
    const out = req.fed ? await x.submitFed(req.basic, d.TaskID, d) : await x.submit(req.basic, d.TaskID);
    if (!out.ok) { problems.push(`task ${d.TaskID}: ${out.message}`); continue; }
    x.links.link(d.TaskID, x.now());
    x.announce(d.TaskID);
  }
  return problems.length ? { StatusCode: '1', Message: problems.join('; ') } : { StatusCode: '0' };
}

