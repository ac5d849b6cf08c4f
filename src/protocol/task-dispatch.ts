/** Clause 9.6: task dispatch (tables 19–21). */
import { Arr, DateTime, DeviceID, Int32, JsonObject, Obj, Opt, StrLt, StrMax, TaskIDField, type Static } from './fields.ts';
import { CommandIdx, CommandTypeField, ReplyMessage, StatusCodeField } from './common.ts';

/** Table 20 AlgModelInfo.ModelList entry. */
export const DispatchModel = Obj({
  ModelID: Int32(),
  ModelDesc: Opt(StrLt(1024)),
  ModelVersion: StrLt(20, { minLength: 1 }),
  ModelURL: Opt(StrLt(256)),
});

/** Table 20 <TaskDispatchInfo>. */
export const TaskDispatchInfo = Obj({
  TaskID: TaskIDField(),
  TaskName: Opt(StrMax(128)),
  Desc: Opt(StrMax(512)),
  TaskType: Opt(Int32()),
  Priority: Opt(Int32({ minimum: 1, maximum: 10 })),
  ParentTaskID: Opt(StrMax(128)),
  Dependencies: Opt(Arr(Obj({ TaskID: TaskIDField(), DeviceID: Opt(DeviceID()), ExtendedInfo: Opt(JsonObject()) }))),
  TaskAttr: Int32({ minimum: 0 }),
  ExecutionCond: Opt(Obj({
    TimeRange: Opt(Arr(Obj({ StartTime: Opt(DateTime()), EndTime: Opt(DateTime()) }))),
    ExtendedInfo: Opt(JsonObject()),
  })),
  AlgModelInfo: Obj({
    AlgID: Int32(),
    AlgDesc: Opt(StrLt(1024)),
    AlgVersion: StrLt(20, { minLength: 1 }),
    AlgFileURL: Opt(StrLt(256)),
    ModelList: Opt(Arr(DispatchModel)),
  }),
  InputInfo: Obj({
    StreamURL: Opt(StrMax(256)),
    AlgArgs: Opt(JsonObject()),
    // "int 4字节", no range: what rates an executor can honour is its EB2 check, not the schema's.
    TaskFrameRate: Opt(Int32()),
  }),
  DstDeviceList: Arr(Obj({ DeviceID: Opt(DeviceID()), OutputURL: Opt(StrMax(256)) })),
});
export type TaskDispatchInfo = Static<typeof TaskDispatchInfo>;

/** Table 19: task_dispatch; DeviceID is the receiving executor. */
export const TaskDispatch = Obj({
  CommandType: CommandTypeField('task_dispatch'),
  CommandIdx: Opt(CommandIdx()),
  DeviceID: DeviceID(),
  MessageBody: Obj({ TaskDispatchList: Arr(TaskDispatchInfo, { minItems: 1 }) }),
});
export type TaskDispatch = Static<typeof TaskDispatch>;

/** Table 21: reply to task_dispatch. */
export const TaskDispatchReply = Obj({
  CommandType: CommandTypeField('task_dispatch'),
  CommandIdx: Opt(CommandIdx()),
  StatusCode: StatusCodeField(),
  Message: Opt(ReplyMessage(512)),
});
export type TaskDispatchReply = Static<typeof TaskDispatchReply>;
