/**
 * The command envelope of PROTOCOL.md and the table of command schemas. A receiver first checks
 * the envelope (so it can echo CommandType/CommandIdx even when the body is wrong), then the
 * full schema of that command type.
 */
import { DeviceID, Int32, Obj, Opt, StrLt, JsonObject, type Static, type TSchema } from './fields.ts';
import { AvailableResQuery, TotalResQuery } from './resource.ts';
import { AlgorithmResQuery } from './algorithm.ts';
import { TaskDispatch } from './task-dispatch.ts';
import { TaskOpsControl } from './task-control.ts';
import { TaskResult } from './task-result.ts';
import { TaskStatusQuery } from './task-status.ts';
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
