/**
 * Planner (M1, S1): turns a TaskRequest into subtasks. Automatic decomposition for now: one
 * subtask per input stream, each sending its results to this scheduler. (Manual topologies
 * from CustomInfo.Topology come with the orchestration work.)
 */
import type { CustomInfo, TaskBasicInfo, TaskDispatchInfo } from '../protocol/index.ts';

export interface SubtaskPlan {
  subtaskId: string;
  /** Stage of a manual topology: its algorithm and device type; `upstream` feeds it. */
  stage?: { name: string; algId?: number; algType?: string; deviceType?: string; upstream?: string };
  /** Dispatch info without AlgModelInfo's final version, which placement fills per executor. */
  dispatch: TaskDispatchInfo;
  /** The device the input belongs to, for data locality. */
  nearDeviceId?: string;
}

/**
 * With a Topology: per input, a serial chain of subtasks. The first stage reads the stream; each
 * later one has no StreamURL and lists the previous stage in Dependencies — it works on the
 * results that stage sends it. Plans come upstream first.
 */
export function planTopology(taskId: string, basic: TaskBasicInfo, custom: CustomInfo, scheduler: { deviceId: string; url: string }): SubtaskPlan[] {
  const stages = custom.Topology!.Stages;
  const out: SubtaskPlan[] = [];
  custom.Inputs.forEach((input, i) => {
    let prev: string | undefined;
    for (const st of stages) {
      const id = `${taskId}.${i + 1}.${st.Name}`;
      const dispatch: TaskDispatchInfo = {
        TaskID: id, ParentTaskID: taskId, TaskName: `${basic.TaskName}: ${st.Name}`.slice(0, 120), TaskAttr: custom.TaskAttr ?? 0,
        AlgModelInfo: { AlgID: st.AlgID ?? 0, AlgVersion: '0' },
        InputInfo: prev
          ? { AlgArgs: { ...(custom.AlgArgs ?? {}), ...(st.AlgArgs ?? {}) } }
          : { StreamURL: input.StreamURL, AlgArgs: { ...(custom.AlgArgs ?? {}), ...(st.AlgArgs ?? {}) }, ...(custom.TaskFrameRate ? { TaskFrameRate: custom.TaskFrameRate } : {}) },
        DstDeviceList: [{ DeviceID: scheduler.deviceId, OutputURL: scheduler.url }],
        ...(prev ? { Dependencies: [{ TaskID: prev }] } : {}),
      };
      if (basic.TaskType !== undefined) dispatch.TaskType = basic.TaskType;
      if (basic.Priority !== undefined) dispatch.Priority = basic.Priority;
      out.push({ subtaskId: id, dispatch, nearDeviceId: prev ? undefined : input.DeviceID,
        stage: { name: st.Name, algId: st.AlgID ?? custom.AlgID, algType: st.AlgType ?? (st.AlgID === undefined ? custom.AlgType : undefined), deviceType: st.DeviceType, upstream: prev } });
      prev = id;
    }
  });
  return out;
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
    if (custom.TimeRange?.length) dispatch.ExecutionCond = { TimeRange: custom.TimeRange };
    return { subtaskId: dispatch.TaskID, dispatch, nearDeviceId: input.DeviceID };
  });
}
