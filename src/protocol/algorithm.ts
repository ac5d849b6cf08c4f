/** Clause 9.4: device algorithm query (tables 12–15). */
import { Arr, DateTime, DeviceID, Int32, Obj, Opt, StrLt, StrMax, type Static } from './fields.ts';
import { CommandIdx, CommandTypeField, DeviceQuery, ReplyMessage, StatusCodeField } from './common.ts';

/** Table 15 <ModelInfo>. */
export const ModelInfo = Obj({
  ModelID: Int32(),
  ModelVersion: StrLt(20, { minLength: 1 }),
  ModelFileName: Opt(StrLt(128)),
  ModelSize: Opt(StrLt(32)),
  ModelUpdateTime: Opt(DateTime()),
  /** Not in table 15: the ONNX Runtime execution provider the model runs on (`cpu`, `cuda:0` …). */
  ExecutionProvider: Opt(StrMax(32)),
  /** Not in table 15: why it runs there (as asked, or why what the package asked for is not possible). */
  ExecutionProviderReason: Opt(StrMax(512)),
});
export type ModelInfo = Static<typeof ModelInfo>;

/** Table 14 AlgInfoList entry. AlgStatus: 0 in use, 1 unused, 2 invalid, ≥3 extensions. */
export const AlgInfo = Obj({
  AlgID: Int32(),
  AlgType: StrLt(128),
  AlgVersion: StrLt(20, { minLength: 1 }),
  AlgFileName: Opt(StrLt(64)),
  AlgStatus: Int32({ minimum: 0 }),
  AlgDownloadTime: Opt(DateTime()),
  ModelList: Opt(Arr(ModelInfo)),
});
export type AlgInfo = Static<typeof AlgInfo>;

/** Table 14 <AlgResource>. */
export const AlgResource = Obj({ DeviceID: DeviceID(), AlgInfoList: Arr(AlgInfo) });
export type AlgResource = Static<typeof AlgResource>;

/** Table 12: algorithm_res_query. */
export const AlgorithmResQuery = Obj({
  CommandType: CommandTypeField('algorithm_res_query'),
  CommandIdx: Opt(CommandIdx()),
  DeviceID: Opt(DeviceID()),
  MessageBody: Obj({ DeviceList: Opt(Arr(DeviceQuery)) }),
});
export type AlgorithmResQuery = Static<typeof AlgorithmResQuery>;

/** Table 13: reply to algorithm_res_query. */
export const AlgorithmResQueryReply = Obj({
  CommandType: CommandTypeField('algorithm_res_query'),
  CommandIdx: Opt(CommandIdx()),
  StatusCode: StatusCodeField(),
  Message: Opt(ReplyMessage()),
  AlgResourceList: Arr(AlgResource),
});
export type AlgorithmResQueryReply = Static<typeof AlgorithmResQueryReply>;
