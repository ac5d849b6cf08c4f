/** Clause 9.8: task result (tables 25–27). */
import { Arr, Base64, DateTime, DeviceID, Int32, JsonObject, Latitude, Long, Longitude, Obj, Opt, StrLt, TaskIDField, StrMax, type Static } from './fields.ts';
import { CommandIdx, CommandTypeField, ReplyMessage, StatusCodeField } from './common.ts';

/**
 * ImageInfo follows T/AI 116.1 9.2.6.1, whose text is not public; these are the members this
 * project fills. Other members are accepted and passed on unchanged.
 */
export const ImageInfo = Obj({
  Width: Opt(Int32({ minimum: 0 })),
  Height: Opt(Int32({ minimum: 0 })),
  Format: Opt(StrMax(16)),
  /** Presentation time of the frame in the source, milliseconds. */
  Pts: Opt(Long()),
  SourceURL: Opt(StrMax(256)),
});

/** Table 26 TaskResultData. */
export const TaskResultData = Obj({
  ImageResult: Opt(Obj({ ImageData: Opt(Base64()), ImageInfo: Opt(ImageInfo), ImageFeatureInfo: Opt(JsonObject()) })),
  VideoResult: Opt(Obj({ VideoSliceData: Opt(Base64()), VideoSliceInfo: Opt(JsonObject()), VideoFeatureInfo: Opt(JsonObject()) })),
  AnalysisResult: Opt(Arr(Obj({ FeatureInfo: Opt(JsonObject()), Type: Opt(Int32({ minimum: 0 })), ResultData: Opt(JsonObject()) }))),
});
export type TaskResultData = Static<typeof TaskResultData>;

/** Table 26: the task_result message body. */
export const TaskResultBody = Obj({
  TaskID: TaskIDField(),
  ParentTaskID: Opt(StrMax(128)),
  DeviceID: DeviceID(),
  DstDeviceList: Arr(Obj({ DeviceID: DeviceID() })),
  AlgID: Int32(),
  AlgVersion: StrLt(20, { minLength: 1 }),
  ModelList: Opt(Arr(Obj({ ModelID: Int32(), ModelVersion: StrLt(20, { minLength: 1 }) }))),
  Longitude: Opt(Longitude()),
  Latitude: Opt(Latitude()),
  Ts: Long(),
  CreateTime: Opt(DateTime()),
  TaskResultData,
});
export type TaskResultBody = Static<typeof TaskResultBody>;

/** Table 25: task_result. */
export const TaskResult = Obj({
  CommandType: CommandTypeField('task_result'),
  CommandIdx: Opt(CommandIdx()),
  DeviceID: Opt(DeviceID()),
  MessageBody: TaskResultBody,
});
export type TaskResult = Static<typeof TaskResult>;

/** Table 27: reply to task_result. */
export const TaskResultReply = Obj({
  CommandType: CommandTypeField('task_result'),
  CommandIdx: Opt(CommandIdx()),
  StatusCode: StatusCodeField(),
  Message: Opt(ReplyMessage()),
});
export type TaskResultReply = Static<typeof TaskResultReply>;
