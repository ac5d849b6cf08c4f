/**
 * SB2, updating a deployed task on all its executors at once: `POST /System/TaskUpdate/{TaskID}`
 * with a new AlgVersion and/or AlgArgs sends each running subtask's executor a task_dispatch of
 * the same work on the new version (the executor switches at a frame boundary, keeping TaskID,
 * position and undelivered results: runtime/task-update.ts). A few executors at a time (rolling,
 * `MaxParallel`); each answer is reported per subtask. An executor that refuses (it cannot fetch
 * the version, the plugin refuses the arguments) keeps running the old version: nothing there
 * changed, and the scheduler's record of that subtask is left as it was.
 */
import { CommandType, TaskDispatchReply, type TaskDispatchInfo, type TaskUpdateRequest } from '../protocol/index.ts';
import type { RetinaClient } from '../net/client.ts';
import type { Logger } from '../log.ts';
import type { DeviceRegistry } from './devices.ts';
import type { AlgorithmRepository } from './repository.ts';
import type { SchedulerStateStore } from './store-types.ts';
import { ACTIVE_STATUSES } from './store.ts';
import { modelList } from './model-list.ts';

/** The request (protocol/node-api.ts): AlgVersion, AlgArgs merged over each subtask's (a key set to null is removed), MaxParallel executors at once (default 8). */
export type { TaskUpdateRequest };

export interface SubtaskUpdateOutcome { SubtaskID: string; DeviceID: string; StatusCode: '0' | '1'; Message?: string }

export interface TaskUpdateParts {
  store: SchedulerStateStore;
  devices: DeviceRegistry;
  repository: AlgorithmRepository;
  client: RetinaClient;
  algFileUrl(algId: number, version: string): string;
  log: Logger;
}

/** The dispatch of `old` on the new version and arguments (what is sent, and kept on success). */
function updated(parts: TaskUpdateParts, old: TaskDispatchInfo, deviceId: string, r: TaskUpdateRequest): TaskDispatchInfo | string {
  const algId = old.AlgModelInfo.AlgID;
  const version = r.AlgVersion ?? old.AlgModelInfo.AlgVersion;
  const listed = parts.devices.get(deviceId)?.algs.find((a) => a.AlgID === algId && a.AlgVersion === version);
  const entry = parts.repository.entry(algId, version);
  if (!listed && !entry) return `AlgVersion: ${version} of AlgID ${algId} is neither published here nor installed on ${deviceId}`;
  const args: Record<string, unknown> = { ...(old.InputInfo.AlgArgs ?? {}) };
  for (const [k, v] of Object.entries(r.AlgArgs ?? {})) {
    if (v === null) delete args[k]; else args[k] = v;
  }
  // The host's own resume arguments are the executor's business from here.
  delete args.StartOffsetMs;
  delete args.Retry;
  const models = listed ? modelList(listed, entry) : entry?.models;
  return {
    ...old,
    AlgModelInfo: { AlgID: algId, AlgVersion: version, ...(entry ? { AlgFileURL: parts.algFileUrl(algId, version) } : {}), ...(models?.length ? { ModelList: models } : {}) },
    InputInfo: { ...old.InputInfo, AlgArgs: args },
  };
}

/** Updates every running subtask of `taskId`; undefined when the task is unknown. */
export async function updateTask(parts: TaskUpdateParts, taskId: string, r: TaskUpdateRequest): Promise<SubtaskUpdateOutcome[] | undefined> {
  if (!parts.store.task(taskId)) return undefined;
  const subs = parts.store.subtasks(taskId).filter((s) => ACTIVE_STATUSES.includes(s.status));
  const out: SubtaskUpdateOutcome[] = [];
  let next = 0;
  const one = async (): Promise<void> => {
    for (let i = next++; i < subs.length; i = next++) {
      const s = subs[i]!;
      const fail = (Message: string) => { out.push({ SubtaskID: s.subtask_id, DeviceID: s.device_id, StatusCode: '1', Message }); };
      const dev = parts.devices.row(s.device_id);
      if (!dev?.command_url || !dev.online) { fail(`executor ${s.device_id} is not online`); continue; }
      const d = updated(parts, JSON.parse(s.dispatch_info) as TaskDispatchInfo, s.device_id, r);
      if (typeof d === 'string') { fail(d); continue; }
      try {
        await parts.client.sendCommand(dev.command_url, { CommandType: CommandType.TaskDispatch, DeviceID: s.device_id, MessageBody: { TaskDispatchList: [d] } }, TaskDispatchReply);
        parts.store.setSubtaskDispatch(s.subtask_id, d);
        out.push({ SubtaskID: s.subtask_id, DeviceID: s.device_id, StatusCode: '0' });
      } catch (err) {
        fail((err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(r.MaxParallel ?? 8, 64)) }, one));
  parts.log.info({ task: taskId, version: r.AlgVersion, updated: out.filter((o) => o.StatusCode === '0').length, failed: out.filter((o) => o.StatusCode === '1').length }, 'task updated');
  return out.sort((a, b) => (a.SubtaskID < b.SubtaskID ? -1 : 1));
}
