/** Clause 9.5: task request (tables 16–18) and this project's CustomInfo (PROTOCOL.md). */
import { Arr, DateTime, DeviceID, Int32, JsonObject, Obj, Opt, StrMax, Type, type Static } from './fields.ts';
import { StageCondition } from './topology.ts';
import { StartOn } from './task-event.ts';
import { StatusCodeField } from './common.ts';
import { StrEnum } from './fields.ts';
import { DEVICE_TYPE_VALUES } from './codes.ts';

/** Table 17 <TaskBasicInfo>: the body of `POST /System/TaskRequest/`. */
export const TaskBasicInfo = Obj({
  TaskType: Opt(Int32()),
  TaskName: StrMax(128),
  Desc: Opt(StrMax(512)),
  Priority: Opt(Int32({ minimum: 1, maximum: 10 })),
  InitiationInfo: Obj({
    DeviceID: DeviceID(),
    Applicant: Opt(StrMax(128)),
    InitiateTime: Opt(DateTime()),
    UpdateTime: Opt(DateTime()),
    CustomInfo: Opt(JsonObject()),
  }),
  Constraints: Opt(JsonObject()),
});
export type TaskBasicInfo = Static<typeof TaskBasicInfo>;

/** Table 18: reply to a task request. */
export const TaskRequestReply = Obj({
  StatusCode: StatusCodeField(),
  TaskID: Opt(StrMax(128)),
  Message: Opt(StrMax(128)),
  /** Ours (deliberate addition): the key this task's NotifyURL pushes are signed with (HMAC-SHA256). */
  NotifyKey: Opt(StrMax(64)),
});
export type TaskRequestReply = Static<typeof TaskRequestReply>;

/** Most data sources one task may name (each becomes a subtask; a task with 20,000 kept dispatching after Stop). */
export const TASK_INPUTS_MAX = 256;

/** Most parts one file input may be split into (SB7). */
export const INPUT_PARTS_MAX = 16;

/**
 * One data source of a task (PROTOCOL.md CustomInfo.Inputs). Ours, `Parts` (M2, SB7): a file
 * split into that many consecutive time slices, one subtask each, spread over executors.
 */
export const TaskInput = Obj({
  StreamURL: StrMax(256, { minLength: 1, format: 'uri-ish' }),
  DeviceID: Opt(DeviceID()),
  Parts: Opt(Int32({ minimum: 1, maximum: INPUT_PARTS_MAX })),
});
export type TaskInput = Static<typeof TaskInput>;

/** A time window (table 20 TimeRange entry). */
export const TimeWindow = Obj({ StartTime: Opt(DateTime()), EndTime: Opt(DateTime()) });

/**
 * A manual decomposition (M1, M2): a DAG of stages, each an algorithm with its own AlgArgs,
 * optionally on a given DeviceType (0 device, 1 edge, 2 cloud). `After` names the stages it
 * works after (absent: the stage before it in the list, so a plain list is a serial chain;
 * `[]`: it reads the inputs' streams itself — parallel with the others). A stage runs once per
 * input (fan-out over inputs) unless `Join` makes it one subtask fed by every instance of its
 * upstream stages (fan-in, e.g. fusion). `Input` "Stream" makes a stage after others read its
 * input's stream rather than their results. `When` makes it conditional: it is placed and
 * started only once an upstream result meets the condition (M6), and with results input it
 * receives only the results that do.
 */
export const TopologySpec = Obj({
  Stages: Arr(Obj({
    Name: StrMax(32, { minLength: 1, pattern: '^[A-Za-z0-9_-]+$' }),
    AlgType: Opt(StrMax(127, { minLength: 1 })),
    AlgID: Opt(Int32()),
    AlgArgs: Opt(JsonObject()),
    DeviceType: Opt(StrEnum(DEVICE_TYPE_VALUES, 31)),
    After: Opt(Arr(StrMax(32, { minLength: 1, pattern: '^[A-Za-z0-9_-]+$' }), { maxItems: 8 })),
    Join: Opt(Type.Boolean()),
    Input: Opt(StrEnum(['Stream', 'Results'] as const, 16)),
    When: Opt(StageCondition),
  }), { minItems: 1, maxItems: 8 }),
});
export type TopologySpec = Static<typeof TopologySpec>;

/** One retry rule (SB10): failures with these ExceptionCodes are retried so many times, the wait growing by Backoff each time. */
export const RetryRule = Obj({
  ExceptionCodes: Arr(Int32(), { minItems: 1, maxItems: 16 }),
  MaxAttempts: Int32({ minimum: 0, maximum: 100 }),
  IntervalMs: Opt(Int32({ minimum: 0, maximum: 3_600_000 })),
  Backoff: Opt(Type.Number({ minimum: 1, maximum: 10 })),
  MaxIntervalMs: Opt(Int32({ minimum: 0, maximum: 3_600_000 })),
});
export type RetryRule = Static<typeof RetryRule>;

/**
 * What the scheduler does when a subtask fails (SB10, SB11, S7): `Retry` rules by ExceptionCode
 * (the first rule naming the code applies; a code no rule names is not retried), and what
 * happens to the rest of the task when a subtask fails for good: `Rollback` stops and cleans its
 * other subtasks (the results delivered are kept), `Continue` lets them run.
 */
export const FailurePolicy = Obj({
  Retry: Opt(Arr(RetryRule, { maxItems: 8 })),
  OnFailure: Opt(StrEnum(['Rollback', 'Continue'] as const, 16)),
});
export type FailurePolicy = Static<typeof FailurePolicy>;

/**
 * InitiationInfo.CustomInfo as PROTOCOL.md defines it: where the data comes from and which
 * algorithm runs on it — table 17 has no fields for either.
 */
export const CustomInfo = Obj({
  Inputs: Arr(TaskInput, { minItems: 1, maxItems: TASK_INPUTS_MAX }),
  AlgType: Opt(StrMax(127, { minLength: 1 })),
  AlgID: Opt(Int32()),
  AlgArgs: Opt(JsonObject()),
  TaskFrameRate: Opt(Int32({ minimum: 1, maximum: 1000 })),
  TaskAttr: Opt(Int32({ minimum: 0 })),
  TimeRange: Opt(Arr(TimeWindow)),
  Topology: Opt(TopologySpec),
  FailurePolicy: Opt(FailurePolicy),
  NotifyURL: Opt(StrMax(256, { format: 'uri-ish' })),
  /** Ours (M3, SB4): hold the task queued until this event (task-event.ts). */
  StartOn: Opt(StartOn),
});
export type CustomInfo = Static<typeof CustomInfo>;
