/**
 * Planner (M1, S1): turns a TaskRequest into subtasks. Without a Topology, one subtask per input
 * stream, each sending its results to this scheduler; with one (given or automatic), the
 * subtasks of its DAG (orchestration/dag.ts).
 */
import { TASK_INPUTS_MAX, type CustomInfo, type TaskBasicInfo, type TaskDispatchInfo } from '../protocol/index.ts';
import { planDag } from './orchestration/dag.ts';
import { executionCond, type SubtaskPlan } from './subtask-plan.ts';

export type { SubtaskPlan } from './subtask-plan.ts';

/** With a Topology (given, or built by automatic decomposition): its DAG's subtasks, upstream first. */
export function planTopology(taskId: string, basic: TaskBasicInfo, custom: CustomInfo, scheduler: { deviceId: string; url: string }): SubtaskPlan[] {
  return planDag(taskId, basic, custom, scheduler);
}

/**
 * One subtask per input; results go to the scheduler. An input with `Parts` N > 1 (SB7, M2)
 * becomes N subtasks over the same file, part k reading the k-th of N consecutive time slices
 * (host AlgArgs `Slice`; the executor finds the file's duration and cuts at sampling instants, so
 * every sampled frame falls in exactly one part) and all stamping Ts from one origin
 * (`TsOriginMs`), so results keep the Pts and Ts order of one reading of the file.
 */
export function planSubtasks(taskId: string, basic: TaskBasicInfo, custom: CustomInfo, scheduler: { deviceId: string; url: string }): SubtaskPlan[] {
  const origin = Date.now();
  return custom.Inputs.flatMap((input, i) => {
    const parts = input.Parts ?? 1;
    return Array.from({ length: parts }, (_, k): SubtaskPlan => {
      const args = { ...(custom.AlgArgs ?? {}), ...(parts > 1 ? { Slice: { Index: k, Count: parts }, TsOriginMs: origin } : {}) };
      const dispatch: TaskDispatchInfo = {
        TaskID: parts > 1 ? `${taskId}.${i + 1}.part${k + 1}` : `${taskId}.${i + 1}`,
        ParentTaskID: taskId,
        TaskName: basic.TaskName,
        TaskAttr: custom.TaskAttr ?? (custom.TimeRange?.length ? 1 : 0),
        AlgModelInfo: { AlgID: custom.AlgID ?? 0, AlgVersion: '0' },
        InputInfo: { StreamURL: input.StreamURL, ...(Object.keys(args).length ? { AlgArgs: args } : {}), ...(custom.TaskFrameRate ? { TaskFrameRate: custom.TaskFrameRate } : {}) },
        DstDeviceList: [{ DeviceID: scheduler.deviceId, OutputURL: scheduler.url }],
      };
      if (basic.Desc !== undefined) dispatch.Desc = basic.Desc;
      if (basic.TaskType !== undefined) dispatch.TaskType = basic.TaskType;
      if (basic.Priority !== undefined) dispatch.Priority = basic.Priority;
      const cond = executionCond(basic, custom);
      if (cond) dispatch.ExecutionCond = cond;
      return { subtaskId: dispatch.TaskID, dispatch, nearDeviceId: input.DeviceID, ...(parts > 1 ? { spread: `input-${i}` } : {}) };
    });
  });
}

/** Why the inputs' Parts cannot be planned (naming the field and the rule), or null. */
export function partsProblem(custom: CustomInfo): string | null {
  let total = 0;
  for (const [i, input] of custom.Inputs.entries()) {
    const parts = input.Parts ?? 1;
    total += parts;
    if (parts === 1) continue;
    const field = `InitiationInfo.CustomInfo.Inputs[${i}].Parts`;
    // Only a file has a duration to cut; a live stream has no later part to start on.
    if (!/^file:/i.test(input.StreamURL)) return `${field}: only a file source (file://) can be split into parts, not ${input.StreamURL.split(':')[0]}`;
    if (custom.Topology) return `${field}: a task with a Topology cannot split an input (its stages follow the input)`;
  }
  if (total > TASK_INPUTS_MAX) return `InitiationInfo.CustomInfo.Inputs: ${total} subtasks with Parts, at most ${TASK_INPUTS_MAX}`;
  return null;
}
