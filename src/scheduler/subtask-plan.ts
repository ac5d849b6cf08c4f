/** What the planner hands placement for one subtask (its own file: the planner and orchestration/ both use it). */
import type { CustomInfo, StageCondition, TaskBasicInfo, TaskDispatchInfo } from '../protocol/index.ts';

export interface SubtaskPlan {
  subtaskId: string;
  /**
   * Stage of a topology (orchestration/dag.ts): its algorithm and device type; `upstreams` are
   * the subtasks it depends on; `when`, a conditional stage's condition (placed only once met).
   */
  stage?: { name: string; algId?: number; algType?: string; deviceType?: string; upstreams: string[]; readsStream: boolean; when?: StageCondition };
  /** Dispatch info without AlgModelInfo's final version, which placement fills per executor. */
  dispatch: TaskDispatchInfo;
  /** The device the input belongs to, for data locality. */
  nearDeviceId?: string;
  /** Parts of one input split in time (SB7) share a key: each goes to an executor the others did not take, while there is one. */
  spread?: string;
}

/**
 * Table 20's ExecutionCond of a task's subtasks: its time windows (SB4), and its Constraints in
 * ExtendedInfo, so a lower scheduler the subtask is dispatched to places it by the same rules
 * (cascade B.2; an executor ignores them).
 */
export function executionCond(basic: TaskBasicInfo, custom: CustomInfo): TaskDispatchInfo['ExecutionCond'] | undefined {
  const windows = custom.TimeRange?.length ? { TimeRange: custom.TimeRange } : {};
  const ext = basic.Constraints && Object.keys(basic.Constraints).length ? { ExtendedInfo: { Constraints: basic.Constraints } } : {};
  return windows.TimeRange || ext.ExtendedInfo ? { ...windows, ...ext } : undefined;
}
