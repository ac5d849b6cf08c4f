/** What the planner hands placement for one subtask (its own file: the planner and orchestration/ both use it). */
import type { StageCondition, TaskDispatchInfo } from '../protocol/index.ts';

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
