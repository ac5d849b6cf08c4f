/** Clauses 9.9 and 9.10: task status query and report (tables 28–33). */
import { Arr, DeviceID, Int32, JsonObject, Obj, Opt, StrEnum, StrMax, TaskIDField, type Static } from './fields.ts';
import { CommandIdx, CommandTypeField, EXCEPTION_DESC_MAX_BYTES, ExceptionCodeField, ExecutionStatusField, ReplyMessage, StatusCodeField } from './common.ts';
import { HIERARCHICAL_QUERY_VALUES } from './codes.ts';

/** Table 31 <TaskStatus>. */
export const TaskStatus = Obj({
  TaskID: TaskIDField(),
  ParentTaskID: Opt(StrMax(128)),
  TaskName: Opt(StrMax(128)),
  TaskType: Opt(Int32()),
  ExecutionStatus: ExecutionStatusField(),
  Progress: Opt(Int32({ minimum: 0, maximum: 100 })),
  ResourcesOccupied: Opt(JsonObject()),
  ExceptionCode: Opt(ExceptionCodeField()),
  ExceptionDesc: Opt(StrMax(EXCEPTION_DESC_MAX_BYTES)),
});
export type TaskStatus = Static<typeof TaskStatus>;

/**
 * Table 30 <DevTaskStatus>. The table leaves TaskStatusList's 选择状态 blank, so a peer may leave
 * it out (read as no tasks); our nodes always send it.
 */
export const DevTaskStatus = Obj({ DeviceID: DeviceID(), TaskStatusList: Opt(Arr(TaskStatus)) });
export type DevTaskStatus = Static<typeof DevTaskStatus>;

/** Table 28: task_status_query. */
export const TaskStatusQuery = Obj({
  CommandType: CommandTypeField('task_status_query'),
  CommandIdx: Opt(CommandIdx()),
  DeviceID: Opt(DeviceID()),
  MessageBody: Obj({
    DeviceList: Opt(Arr(Obj({
      DeviceID: DeviceID(),
      HierarchicalQuery: StrEnum(HIERARCHICAL_QUERY_VALUES, 1),
      TaskIDList: Opt(Arr(TaskIDField())),
    }))),
  }),
});
export type TaskStatusQuery = Static<typeof TaskStatusQuery>;

/** Table 29: reply to task_status_query. */
export const TaskStatusQueryReply = Obj({
  CommandType: CommandTypeField('task_status_query'),
  CommandIdx: Opt(CommandIdx()),
  StatusCode: StatusCodeField(),
  Message: Opt(ReplyMessage()),
  TaskStatusSet: Arr(DevTaskStatus),
});
export type TaskStatusQueryReply = Static<typeof TaskStatusQueryReply>;

/** Table 33 (and 9, 11): reply to a report. */
export const ReportReply = Obj({ StatusCode: StatusCodeField(), Message: Opt(ReplyMessage()) });
export type ReportReply = Static<typeof ReportReply>;
