/** Clause 9.8: task result (tables 25–27). */
import { Arr, Base64, DateTime, DeviceID, Int32, JsonObject, Latitude, Long, Longitude, Obj, Opt, StrLt, TaskIDField, StrMax, type Static } from './fields.ts';
import { CommandIdx, CommandTypeField, ReplyMessage, StatusCodeField } from './common.ts';

/**
 * ImageInfo follows T/AI 116.1 9.2.6.1, whose text is not public, and PROTOCOL.md names none of
 * its members: on the wire it is a free JSON object, so a peer's ImageInfo is never refused for
 * members we do not know.
 */
export const ImageInfo = JsonObject();

/** The ImageInfo members this project's executors fill (a peer's ImageInfo may hold others). */
export interface FilledImageInfo {
  Width?: number;
  Height?: number;
  Format?: string;
  /** Presentation time of the frame in the source, milliseconds. */
  Pts?: number;
  SourceURL?: string;
}

/** The ImageInfo.Pts (ms) of a result, when it carries a numeric one. */
export function imageInfoPts(info: Record<string, unknown> | undefined): number | undefined {
  const pts = info?.Pts;
  return typeof pts === 'number' && Number.isFinite(pts) ? pts : undefined;
}

/** Table 26 TaskResultData. */
export const TaskResultData = Obj({
  ImageResult: Opt(Obj({ ImageData: Opt(Base64()), ImageInfo: Opt(ImageInfo), ImageFeatureInfo: Opt(JsonObject()) })),
  VideoResult: Opt(Obj({ VideoSliceData: Opt(Base64()), VideoSliceInfo: Opt(JsonObject()), VideoFeatureInfo: Opt(JsonObject()) })),
  AnalysisResult: Opt(Arr(Obj({ FeatureInfo: Opt(JsonObject()), Type: Opt(Int32()), ResultData: Opt(JsonObject()) }))),
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
