/**
 * The command envelope of PROTOCOL.md and the table of command schemas. A receiver first checks
 * the envelope (so it can echo CommandType/CommandIdx even when the body is wrong), then the
 * full schema of that command type.
 */
import { DeviceID, Int32, Obj, Opt, StrLt, JsonObject, type Static, type TSchema } from './fields.ts';
import { AvailableResQuery, AvailableResQueryReply, TotalResQuery, TotalResQueryReply } from './resource.ts';
import { AlgorithmResQuery, AlgorithmResQueryReply } from './algorithm.ts';
import { TaskDispatch, TaskDispatchReply } from './task-dispatch.ts';
import { TaskOpsControl, TaskOpsControlReply } from './task-control.ts';
import { TaskResult, TaskResultReply } from './task-result.ts';
import { TaskStatusQuery, TaskStatusQueryReply } from './task-status.ts';
import { messageMaxBytes } from './common.ts';
import type { CommandType } from './codes.ts';

/** `{ CommandType, CommandIdx, DeviceID, MessageBody }`. */
export const CommandEnvelope = Obj({
  CommandType: StrLt(20, { minLength: 1 }),
  CommandIdx: Opt(Int32()),
  DeviceID: Opt(DeviceID()),
  MessageBody: JsonObject(),
});
export type CommandEnvelope = Static<typeof CommandEnvelope>;

/** Command type → schema of the whole command (tables 2, 5, 12, 19, 22, 25, 28). */
export const COMMAND_SCHEMAS = {
  total_res_query: TotalResQuery,
  available_res_query: AvailableResQuery,
  algorithm_res_query: AlgorithmResQuery,
  task_dispatch: TaskDispatch,
  task_ops_control: TaskOpsControl,
  task_result: TaskResult,
  task_status_query: TaskStatusQuery,
} as const satisfies Record<CommandType, TSchema>;

/** The validated command for a given type. */
export type CommandOf<K extends CommandType> = Static<(typeof COMMAND_SCHEMAS)[K]>;

/** Command type → schema of its reply (tables 3, 6, 13, 21, 24, 27, 29). */
export const COMMAND_REPLY_SCHEMAS = {
  total_res_query: TotalResQueryReply,
  available_res_query: AvailableResQueryReply,
  algorithm_res_query: AlgorithmResQueryReply,
  task_dispatch: TaskDispatchReply,
  task_ops_control: TaskOpsControlReply,
  task_result: TaskResultReply,
  task_status_query: TaskStatusQueryReply,
} as const satisfies Record<CommandType, TSchema>;

/** How many UTF-8 bytes a reply's Message may hold, per command type (table 21: 512). */
export const REPLY_MESSAGE_MAX_BYTES = Object.fromEntries(
  Object.entries(COMMAND_REPLY_SCHEMAS).map(([k, v]) => [k, messageMaxBytes(v)]),
) as Record<CommandType, number>;
