/**
 * Task DAGs (M2, M6, S1): the condition a conditional stage waits for, judged over an upstream
 * result's ResultData, and the TaskTopology record the scheduler returns for a task (table A.1
 * TaskTopology is "任务逻辑拓扑关系载体标识", an identifier of the carrier: the record below is
 * that carrier, served at the path TaskTopology names).
 */
import { Arr, Obj, Opt, StrEnum, StrMax, Type, type Static } from './fields.ts';

export const CONDITION_OPS = ['exists', 'nonEmpty', 'eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'contains'] as const;
export type ConditionOp = (typeof CONDITION_OPS)[number];

/**
 * When a stage runs: an upstream result whose ResultData has `Field` (a dot path; an array on the
 * way means "any element") satisfying `Op` against `Value`. E.g. a plate was read:
 * `{ Field: "Boxes.Text", Op: "nonEmpty" }`; motion in zone 2: `{ Field: "Boxes.Zone", Op: "eq", Value: 2 }`.
 */
export const StageCondition = Obj({
  /** The upstream stage whose results are judged (default: the stage's only upstream). */
  Stage: Opt(StrMax(32, { minLength: 1, pattern: '^[A-Za-z0-9_-]+$' })),
  Field: StrMax(128, { minLength: 1, pattern: '^[A-Za-z0-9_]+(\\.[A-Za-z0-9_]+)*$' }),
  Op: StrEnum(CONDITION_OPS, 16),
  Value: Opt(Type.Union([Type.String({ maxLength: 256 }), Type.Number(), Type.Boolean()])),
});
export type StageCondition = Static<typeof StageCondition>;

/** The values `path` reaches in `v`: arrays on the way fan out (any element may match). */
function reach(v: unknown, path: readonly string[]): unknown[] {
  if (Array.isArray(v)) return v.flatMap((x) => reach(x, path));
  if (!path.length) return [v];
  if (v === null || typeof v !== 'object') return [];
  const next = (v as Record<string, unknown>)[path[0]!];
  return next === undefined ? [] : reach(next, path.slice(1));
}

function holds(op: ConditionOp, x: unknown, want: unknown): boolean {
  switch (op) {
    case 'exists': return x !== null && x !== undefined;
    case 'nonEmpty': return typeof x === 'string' ? x.trim().length > 0 : x !== null && x !== undefined && x !== false;
    case 'eq': return x === want;
    case 'ne': return x !== want;
    case 'gt': return typeof x === 'number' && typeof want === 'number' && x > want;
    case 'gte': return typeof x === 'number' && typeof want === 'number' && x >= want;
    case 'lt': return typeof x === 'number' && typeof want === 'number' && x < want;
    case 'lte': return typeof x === 'number' && typeof want === 'number' && x <= want;
    case 'contains': return typeof x === 'string' && typeof want === 'string' && x.includes(want);
  }
}

/**
 * Whether one result's data meets `c`: some AnalysisResult's ResultData reaches a value that
 * holds. An empty array reaches nothing, so `{ Field: "Boxes", Op: "nonEmpty" }` means "at least one box".
 */
export function conditionMet(c: StageCondition, analysis: ReadonlyArray<{ ResultData?: Record<string, unknown> }> | undefined): boolean {
  const path = c.Field.split('.');
  return (analysis ?? []).some((a) => reach(a.ResultData, path).some((x) => holds(c.Op, x, c.Value)));
}

/** The TaskTopology record: stages as the initiator (or the automatic decomposition) gave them, and subtask edges. */
export const TaskTopologyRecord = Obj({
  TaskID: StrMax(128),
  Stages: Arr(Obj({
    Name: StrMax(32),
    After: Arr(StrMax(32)),
    Join: Type.Boolean(),
    Input: StrEnum(['Stream', 'Results'] as const, 16),
    When: Opt(StageCondition),
    /** The stage's subtasks (one per input, or one for a joined stage). */
    Subtasks: Arr(StrMax(128)),
  })),
  /** Subtask → subtask: results (or, for a conditional stream stage, the trigger) flow along each. */
  Edges: Arr(Obj({ From: StrMax(128), To: StrMax(128), Conditional: Type.Boolean() })),
});
export type TaskTopologyRecord = Static<typeof TaskTopologyRecord>;
