/** Clause 9.7: task control (tables 22–24). */
import { Arr, DeviceID, IntEnum, JsonObject, Obj, Opt, TaskIDField, type Static } from './fields.ts';
import { CommandIdx, CommandTypeField, ReplyMessage, StatusCodeField } from './common.ts';
import { CONTROL_VALUES } from './codes.ts';

/** Table 23 <OpsControl>: 0 start, 1 stop, 2 pause, 3 resume, 4 update AlgArgs. */
export const OpsControl = Obj({
  DeviceID: Opt(DeviceID()),
  TaskID: TaskIDField(),
  Control: IntEnum(CONTROL_VALUES),
  AlgArgs: Opt(JsonObject()),
});
export type OpsControl = Static<typeof OpsControl>;

/** Table 22: task_ops_control. */
export const TaskOpsControl = Obj({
  CommandType: CommandTypeField('task_ops_control'),
  CommandIdx: Opt(CommandIdx()),
  DeviceID: Opt(DeviceID()),
  MessageBody: Obj({ OpsControlList: Arr(OpsControl, { minItems: 1 }) }),
});
export type TaskOpsControl = Static<typeof TaskOpsControl>;

/** Table 24: reply to task_ops_control. */
export const TaskOpsControlReply = Obj({
  CommandType: CommandTypeField('task_ops_control'),
  CommandIdx: Opt(CommandIdx()),
  StatusCode: StatusCodeField(),
  Message: Opt(ReplyMessage()),
});
export type TaskOpsControlReply = Static<typeof TaskOpsControlReply>;
