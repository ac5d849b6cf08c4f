/**
 * The DAG's edges at run time (SD1, M2): which subtasks consume a subtask's results, and so where
 * it sends them (DstDeviceList). Read from the stored subtasks (their Dependencies) and the task's
 * Topology, so a placement, a migration and a conditional start all derive the same answer.
 */
import type { CustomInfo, TaskDispatchInfo } from '../../protocol/index.ts';
import type { SchedulerStateStore, SubtaskRow } from '../store.ts';
import type { DeviceRegistry } from '../devices.ts';
import { stageOfSubtask } from './dag.ts';

/** No executor yet: a conditional stage waiting for its condition, or a subtask nobody took. */
export const UNPLACED = '-';

export interface EdgeDeps {
  store: SchedulerStateStore;
  devices: DeviceRegistry;
  scheduler: { deviceId: string; url: string };
}

/** The subtasks of `taskId` that list `subtaskId` in their Dependencies. */
export function dependentsOf(store: SchedulerStateStore, taskId: string, subtaskId: string): SubtaskRow[] {
  return store.subtasks(taskId).filter((s) => (JSON.parse(s.dispatch_info) as TaskDispatchInfo).Dependencies?.some((d) => d.TaskID === subtaskId));
}

/** A dependent fed through the scheduler or not at all: a conditional stage (the scheduler judges and relays), or one reading its own stream. */
export function fedDirectly(custom: CustomInfo, dep: SubtaskRow): boolean {
  const info = JSON.parse(dep.dispatch_info) as TaskDispatchInfo;
  return !info.InputInfo.StreamURL && !stageOfSubtask(custom.Topology, dep.subtask_id)?.when;
}

/**
 * Where `subtaskId` sends its results: the executor of each dependent it feeds directly, and the
 * scheduler when it feeds none directly (its results are the task's) or a conditional stage
 * waits on them (the scheduler judges the condition).
 */
export function destinationsOf(d: EdgeDeps, custom: CustomInfo, taskId: string, subtaskId: string): TaskDispatchInfo['DstDeviceList'] {
  const out: TaskDispatchInfo['DstDeviceList'] = [];
  let toScheduler = false;
  let direct = 0;
  for (const dep of dependentsOf(d.store, taskId, subtaskId)) {
    if (!fedDirectly(custom, dep)) {
      if (stageOfSubtask(custom.Topology, dep.subtask_id)?.when) toScheduler = true;
      continue;
    }
    direct++;
    const dev = dep.device_id === UNPLACED ? undefined : d.devices.row(dep.device_id);
    if (dev?.command_url && !out.some((x) => x.DeviceID === dev.device_id)) out.push({ DeviceID: dev.device_id, OutputURL: dev.command_url });
  }
  if (toScheduler || direct === 0) out.push({ DeviceID: d.scheduler.deviceId, OutputURL: d.scheduler.url });
  return out;
}
