/**
 * Planner (M1, S1): turns a TaskRequest into subtasks. Without a Topology, one subtask per input
 * stream, each sending its results to this scheduler; with one (given or automatic), the
 * subtasks of its DAG (orchestration/dag.ts).
 */
import type { CustomInfo, TaskBasicInfo, TaskDispatchInfo } from '../protocol/index.ts';
import { planDag } from './orchestration/dag.ts';
import { executionCond, type SubtaskPlan } from './subtask-plan.ts';

export type { SubtaskPlan } from './subtask-plan.ts';

/** With a Topology (given, or built by automatic decomposition): its DAG's subtasks, upstream first. */
export function planTopology(taskId: string, basic: TaskBasicInfo, custom: CustomInfo, scheduler: { deviceId: string; url: string }): SubtaskPlan[] {
  return planDag(taskId, basic, custom, scheduler);
}

/** One subtask per input; results go to the scheduler. */
export function planSubtasks(taskId: string, basic: TaskBasicInfo, custom: CustomInfo, scheduler: { deviceId: string; url: string }): SubtaskPlan[] {
  return custom.Inputs.map((input, i) => {
    const dispatch: TaskDispatchInfo = {
      TaskID: `${taskId}.${i + 1}`,
      ParentTaskID: taskId,
      TaskName: basic.TaskName,
      TaskAttr: custom.TaskAttr ?? (custom.TimeRange?.length ? 1 : 0),
      AlgModelInfo: { AlgID: custom.AlgID ?? 0, AlgVersion: '0' },
      InputInfo: { StreamURL: input.StreamURL, ...(custom.AlgArgs ? { AlgArgs: custom.AlgArgs } : {}), ...(custom.TaskFrameRate ? { TaskFrameRate: custom.TaskFrameRate } : {}) },
      DstDeviceList: [{ DeviceID: scheduler.deviceId, OutputURL: scheduler.url }],
    };
    if (basic.Desc !== undefined) dispatch.Desc = basic.Desc;
    if (basic.TaskType !== undefined) dispatch.TaskType = basic.TaskType;
    if (basic.Priority !== undefined) dispatch.Priority = basic.Priority;
    const cond = executionCond(basic, custom);
    if (cond) dispatch.ExecutionCond = cond;
    return { subtaskId: dispatch.TaskID, dispatch, nearDeviceId: input.DeviceID };
  });
}
