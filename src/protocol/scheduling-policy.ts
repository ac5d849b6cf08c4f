/**
 * Ours (SB5, M3): the scheduler's run-time scheduling policy, read and changed by the operator at
 * `GET`/`PUT /System/SchedulingPolicy` — the limit on tasks running at once and the order waiting
 * tasks start in. A custom order module is named only in the scheduler's own config, never in a
 * request (that would be code execution on the operator's behalf).
 */
import { Int32, Obj, Opt, StrEnum, StrMax, Type, type Static } from './fields.ts';
import { ReplyMessage, StatusCodeField } from './common.ts';

export const BUILTIN_TASK_ORDERS = ['priority', 'ageing', 'round-robin'] as const;

export const SchedulingPolicyUpdate = Obj({
  /** Tasks running at once; null removes the limit. */
  MaxConcurrentTasks: Opt(Type.Union([Int32({ minimum: 1, maximum: 1_000_000 }), Type.Null()])),
  TaskOrder: Opt(StrEnum(BUILTIN_TASK_ORDERS, 32)),
});
export type SchedulingPolicyUpdate = Static<typeof SchedulingPolicyUpdate>;

export const SchedulingPolicyReply = Obj({
  StatusCode: StatusCodeField(),
  Message: Opt(ReplyMessage()),
  SchedulingPolicy: Opt(Obj({
    MaxConcurrentTasks: Opt(Int32({ minimum: 1 })),
    TaskOrder: StrMax(64),
    RunningTasks: Int32({ minimum: 0 }),
    WaitingTasks: Int32({ minimum: 0 }),
  })),
});
export type SchedulingPolicyReply = Static<typeof SchedulingPolicyReply>;

/** Ours (SB5): an executor's own limit on tasks running at once (`--max-tasks`), at `GET`/`PUT /System/ExecutorPolicy` on the executor. */
export const ExecutorPolicyUpdate = Obj({ MaxRunningTasks: Int32({ minimum: 1, maximum: 1024 }) });
export type ExecutorPolicyUpdate = Static<typeof ExecutorPolicyUpdate>;

export const ExecutorPolicyReply = Obj({
  StatusCode: StatusCodeField(),
  Message: Opt(ReplyMessage()),
  ExecutorPolicy: Opt(Obj({ MaxRunningTasks: Int32({ minimum: 1 }), RunningTasks: Int32({ minimum: 0 }) })),
});
export type ExecutorPolicyReply = Static<typeof ExecutorPolicyReply>;
