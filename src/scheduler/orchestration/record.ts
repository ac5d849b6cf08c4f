/**
 * S1, table A.1: the TaskTopology record of a task — its stages (as given, or as the automatic
 * decomposition built them) with their subtasks, and the subtask edges read from the stored
 * Dependencies. TaskInfo.TaskTopology names where it is served (`taskTopologyPath`).
 */
import type { CustomInfo, TaskDispatchInfo, TaskTopologyRecord } from '../../protocol/index.ts';
import type { SchedulerStateStore } from '../store.ts';
import { dagStages, stageOfSubtask } from './dag.ts';

/** TaskInfo.TaskTopology ("载体标识", ≤ 256 bytes): the path of the record on this scheduler. */
export function taskTopologyPath(taskId: string): string {
  return `/System/TaskTopology/${taskId}`;
}

/** The record, or undefined for a task that is not a DAG (one independent subtask per input). */
export function taskTopology(store: SchedulerStateStore, taskId: string): TaskTopologyRecord | undefined {
  const task = store.task(taskId);
  const custom = task ? JSON.parse(task.custom_info) as CustomInfo : undefined;
  if (!custom?.Topology) return undefined;
  const subs = store.subtasks(taskId);
  const stages = dagStages(custom.Topology);
  const edges: TaskTopologyRecord['Edges'] = [];
  for (const s of subs) {
    const st = stageOfSubtask(custom.Topology, s.subtask_id);
    for (const d of (JSON.parse(s.dispatch_info) as TaskDispatchInfo).Dependencies ?? []) edges.push({ From: d.TaskID, To: s.subtask_id, Conditional: !!st?.when });
  }
  return {
    TaskID: taskId,
    Stages: stages.map((st) => ({ Name: st.name, After: st.after, Join: st.join, Input: st.readsStream ? 'Stream' as const : 'Results' as const,
      ...(st.when ? { When: st.when } : {}), Subtasks: subs.filter((s) => s.subtask_id.endsWith(`.${st.name}`)).map((s) => s.subtask_id) })),
    Edges: edges,
  };
}
