/**
 * Task DAGs (M1, M2, M6, S1, SD1): a Topology's stages made explicit (upstreams, join, input,
 * condition), checked, and planned into subtasks whose Dependencies follow the edges. Automatic
 * decomposition for data fusion (TaskType 10) builds the same DAG: the task's algorithm once per
 * input in parallel, then one fusion stage fed by all of them.
 */
import { TaskType, type CustomInfo, type StageCondition, type TaskBasicInfo, type TaskDispatchInfo, type TopologySpec } from '../../protocol/index.ts';
import { executionCond, type SubtaskPlan } from '../subtask-plan.ts';

type StageSpec = TopologySpec['Stages'][number];

/** A stage with its defaults applied. */
export interface DagStage {
  spec: StageSpec;
  name: string;
  after: string[];
  /** One subtask fed by every instance of its upstream stages (fan-in). */
  join: boolean;
  /** Reads its input's stream (a source stage, or `Input: "Stream"`); else its upstreams' results. */
  readsStream: boolean;
  when?: StageCondition;
}

/** The AlgType of the executor's built-in fusion stage (runtime/algorithms.ts RESULT_FUSION). */
export const FUSION_ALG_TYPE = 'result_fusion';

/** Stages with defaults: `After` absent means the stage before (a serial chain); `[]` a source stage. */
export function dagStages(topology: TopologySpec): DagStage[] {
  const stages: DagStage[] = [];
  topology.Stages.forEach((st, i) => {
    const after = st.After ?? (i === 0 ? [] : [topology.Stages[i - 1]!.Name]);
    // A stage after a joined one has one instance too: there is one upstream to follow.
    const join = after.length > 0 && (st.Join === true || after.some((a) => stages.find((x) => x.name === a)?.join));
    stages.push({ spec: st, name: st.Name, after, join, readsStream: after.length === 0 || st.Input === 'Stream', ...(st.When ? { when: st.When } : {}) });
  });
  return stages;
}

/** Why a Topology cannot be planned (naming the stage and the rule), or null. */
export function topologyProblem(topology: TopologySpec): string | null {
  const seen = new Set<string>();
  const field = 'InitiationInfo.CustomInfo.Topology';
  for (const st of dagStages(topology)) {
    if (seen.has(st.name)) return `${field}: stage names must be unique ("${st.name}" twice)`;
    for (const a of st.after) {
      // Upstreams come earlier in the list: the order is a topological one, so no cycle can be written.
      if (!seen.has(a)) return `${field}: stage "${st.name}" lists "${a}" in After, which is not a stage before it`;
    }
    if (new Set(st.after).size !== st.after.length) return `${field}: stage "${st.name}" lists a stage twice in After`;
    if (st.spec.Join && !st.after.length) return `${field}: stage "${st.name}" has Join but no upstream stage (After) to join`;
    if (st.readsStream && st.join) return `${field}: stage "${st.name}" is joined (one subtask for all inputs) and cannot read one input's stream (Input "Stream")`;
    if (st.when) {
      if (!st.after.length) return `${field}: stage "${st.name}" has When but no upstream stage (After) whose results it could judge`;
      const on = st.when.Stage ?? (st.after.length === 1 ? st.after[0] : undefined);
      if (!on) return `${field}: stage "${st.name}": When.Stage must name one of its After stages (${st.after.join(', ')})`;
      if (!st.after.includes(on)) return `${field}: stage "${st.name}": When.Stage "${on}" is not one of its After stages (${st.after.join(', ')})`;
      if (['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'contains'].includes(st.when.Op) && st.when.Value === undefined) return `${field}: stage "${st.name}": When.Op "${st.when.Op}" needs a Value`;
    }
    seen.add(st.name);
  }
  return null;
}

/** The upstream stage a conditional stage's When judges. */
export function conditionStage(st: DagStage): string | undefined {
  return st.when ? st.when.Stage ?? st.after[0] : undefined;
}

/**
 * Automatic decomposition (M1) when the request names no Topology: for data fusion (TaskType 10)
 * over several inputs, the task's algorithm per input in parallel, then one fusion stage.
 */
export function automaticTopology(basic: TaskBasicInfo, custom: CustomInfo): TopologySpec | undefined {
  if (basic.TaskType !== TaskType.DataFusion || custom.Inputs.length < 2 || (custom.AlgID === undefined && custom.AlgType === undefined)) return undefined;
  if (custom.AlgType === FUSION_ALG_TYPE) return undefined;
  return { Stages: [{ Name: 'analyse', After: [] }, { Name: 'fuse', AlgType: FUSION_ALG_TYPE, After: ['analyse'], Join: true }] };
}

/** The algorithm a stage asks for: its own AlgID or AlgType, else the task's. */
export function stageAlg(custom: CustomInfo, spec: StageSpec): { algId?: number; algType?: string } {
  if (spec.AlgID !== undefined || spec.AlgType !== undefined) return { algId: spec.AlgID, algType: spec.AlgID === undefined ? spec.AlgType : undefined };
  return { algId: custom.AlgID, algType: custom.AlgID === undefined ? custom.AlgType : undefined };
}

/** The Topology stage a subtask runs (its id ends in `.<stage name>`; names have no dots). */
export function stageOfSubtask(topology: TopologySpec | undefined, subtaskId: string): DagStage | undefined {
  const name = subtaskId.slice(subtaskId.lastIndexOf('.') + 1);
  return topology ? dagStages(topology).find((st) => st.name === name) : undefined;
}

/** Subtask id of a stage's instance (`i`: input index, undefined for a joined stage); names have no dots. */
export function subtaskIdOf(taskId: string, stage: string, i?: number): string {
  return i === undefined ? `${taskId}.${stage}` : `${taskId}.${i + 1}.${stage}`;
}

/**
 * The subtasks of a DAG, upstream first. Every subtask sends to the scheduler until the
 * dispatcher points it at the executors of the stages after it.
 */
export function planDag(taskId: string, basic: TaskBasicInfo, custom: CustomInfo, scheduler: { deviceId: string; url: string }): SubtaskPlan[] {
  const stages = dagStages(custom.Topology!);
  const instances = new Map<string, string[]>(); // stage → its subtask ids (by input index, or one)
  const out: SubtaskPlan[] = [];
  for (const st of stages) {
    const ids: string[] = [];
    const indices = st.join ? [undefined] : custom.Inputs.map((_, i) => i);
    for (const i of indices) {
      const id = subtaskIdOf(taskId, st.name, i);
      ids.push(id);
      // Per input, an upstream's instance for the same input (or its only one, when joined); joined, all of them.
      const upstreams = st.after.flatMap((a) => {
        const up = instances.get(a)!;
        return i === undefined || up.length === 1 ? up : [up[i]!];
      });
      const input = i === undefined ? undefined : custom.Inputs[i];
      const args = { ...(custom.AlgArgs ?? {}), ...(st.spec.AlgArgs ?? {}) };
      const dispatch: TaskDispatchInfo = {
        TaskID: id, ParentTaskID: taskId, TaskName: `${basic.TaskName}: ${st.name}`.slice(0, 120), TaskAttr: custom.TaskAttr ?? (custom.TimeRange?.length ? 1 : 0),
        AlgModelInfo: { AlgID: st.spec.AlgID ?? 0, AlgVersion: '0' },
        InputInfo: st.readsStream && input
          ? { StreamURL: input.StreamURL, AlgArgs: args, ...(custom.TaskFrameRate ? { TaskFrameRate: custom.TaskFrameRate } : {}) }
          : { AlgArgs: args },
        DstDeviceList: [{ DeviceID: scheduler.deviceId, OutputURL: scheduler.url }],
        ...(upstreams.length ? { Dependencies: upstreams.map((u) => ({ TaskID: u })) } : {}),
      };
      if (basic.TaskType !== undefined) dispatch.TaskType = basic.TaskType;
      if (basic.Priority !== undefined) dispatch.Priority = basic.Priority;
      // Timed windows hold for every stage (SB4): a stage outside the window does not run either.
      const cond = executionCond(basic, custom);
      if (cond) dispatch.ExecutionCond = cond;
      const { algId, algType } = stageAlg(custom, st.spec);
      out.push({ subtaskId: id, dispatch, nearDeviceId: st.readsStream ? input?.DeviceID : undefined,
        stage: { name: st.name, algId, algType, deviceType: st.spec.DeviceType, upstreams, readsStream: st.readsStream, ...(st.when ? { when: st.when } : {}) } });
    }
    instances.set(st.name, ids);
  }
  return out;
}
