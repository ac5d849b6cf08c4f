/**
 * Ours (M3, SB4): event-triggered tasks. A TaskRequest's `CustomInfo.StartOn` holds the task
 * queued (ExecutionStatus 3) until an event arrives from outside it: a result or a status of
 * another task on the same scheduler, or a named event an external system pushes to
 * `POST /System/TaskEvent` (the NotifyURL direction reversed). The standard names event-triggered
 * scheduling (Annex B.1) but gives it no message, so this is the smallest shape that carries it.
 */
import { Int32, JsonObject, Obj, Opt, StrMax, Type, type Static } from './fields.ts';
import { ReplyMessage, StatusCodeField } from './common.ts';
import { StageCondition } from './topology.ts';

/** An event's name: letters, digits and `_ . : -` (it is matched exactly). */
export const EventName = () => StrMax(64, { minLength: 1, pattern: '^[A-Za-z0-9_.:-]+$' });

/** A condition over an event's data (a StageCondition without Stage: there is no upstream stage). */
export const EventCondition = Type.Omit(StageCondition, ['Stage']);
export type EventCondition = Static<typeof EventCondition>;

/**
 * What starts a held task: exactly one source — `TaskID` (a task on this scheduler: one of its
 * results, meeting `When` if given; or, with `Status`, that task reaching this ExecutionStatus)
 * or `Event` (a pushed event of that name, its `Data` meeting `When` if given).
 */
export const StartOn = Obj({
  TaskID: Opt(StrMax(128, { minLength: 1 })),
  Event: Opt(EventName()),
  Status: Opt(Int32({ minimum: 0, maximum: 4 })),
  When: Opt(EventCondition),
});
export type StartOn = Static<typeof StartOn>;

/** The most bytes a pushed event may have: it carries a few facts, not media. */
export const TASK_EVENT_MAX_BYTES = 16 * 1024;

/** The body of `POST /System/TaskEvent`. */
export const TaskEvent = Obj({
  Event: EventName(),
  /** What `When` conditions are judged over (like a result's ResultData). */
  Data: Opt(JsonObject()),
});
export type TaskEvent = Static<typeof TaskEvent>;

/** Its reply: the tasks the event started (only those the sender may see). */
export const TaskEventReply = Obj({
  StatusCode: StatusCodeField(),
  Message: Opt(ReplyMessage()),
  Started: Type.Array(StrMax(128)),
});
export type TaskEventReply = Static<typeof TaskEventReply>;

/** Why a StartOn cannot be used (naming the field and the rule), or null. */
export function startOnProblem(on: StartOn): string | null {
  const field = 'InitiationInfo.CustomInfo.StartOn';
  if ((on.TaskID === undefined) === (on.Event === undefined)) return `${field}: name exactly one source, TaskID (a task on this scheduler) or Event (a pushed event)`;
  if (on.Status !== undefined && on.TaskID === undefined) return `${field}.Status: only with TaskID (the status of that task)`;
  if (on.Status !== undefined && on.When !== undefined) return `${field}: Status and When cannot both be given (a status change carries no ResultData)`;
  if (on.When && ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'contains'].includes(on.When.Op) && on.When.Value === undefined) return `${field}.When.Op "${on.When.Op}" needs a Value`;
  return null;
}
