/** Annex A: the TaskInfo and SubtaskInfo records the scheduler keeps (tables A.1, A.2). */
import { Arr, DateTime, DeviceID, Int32, JsonObject, Obj, Opt, StrLt, StrMax, TaskIDField, type Static } from './fields.ts';
import { EXCEPTION_DESC_MAX_BYTES, ExceptionCodeField, ExecutionStatusField } from './common.ts';
import { TaskDispatchInfo } from './task-dispatch.ts';

/** Table A.2 <SubtaskInfo>. */
export const SubtaskInfo = Obj({
  TaskExecutor: Obj({ DeviceID: DeviceID(), DeviceName: Opt(StrLt(40)), DeviceType: Opt(StrLt(32)) }),
  TaskDispatchInfo,
  CreateTime: Opt(DateTime()),
  UpdateTime: Opt(DateTime()),
  TaskStatusInfo: Obj({
    ExecutionStatus: ExecutionStatusField(),
    Progress: Opt(Int32({ minimum: 0, maximum: 100 })),
    ExceptionCode: Opt(ExceptionCodeField()),
    ExceptionDesc: Opt(StrMax(EXCEPTION_DESC_MAX_BYTES)),
  }),
});
export type SubtaskInfo = Static<typeof SubtaskInfo>;

/** Table A.1 <TaskInfo>. */
export const TaskInfo = Obj({
  TaskID: TaskIDField(),
  TaskName: StrMax(128),
  Desc: Opt(StrMax(512)),
  TaskType: Opt(Int32()),
  Priority: Opt(Int32({ minimum: 1, maximum: 10 })),
  CreateInfo: Opt(Obj({ Applicant: Opt(StrMax(128)), CreateTime: Opt(DateTime()), UpdateTime: Opt(DateTime()) })),
  Constraints: Opt(JsonObject()),
  ExecutionStatus: ExecutionStatusField(),
  DeviceList: Arr(DeviceID()),
  SubtaskInfoList: Opt(Arr(SubtaskInfo)),
  TaskTopology: Opt(StrMax(256)),
});
export type TaskInfo = Static<typeof TaskInfo>;
