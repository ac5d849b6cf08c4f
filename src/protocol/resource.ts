/** Clauses 9.2 and 9.3: device resource query and report (tables 2–11). */
import { Arr, DeviceID, Float, Int32, JsonObject, Long, Obj, Opt, StrEnum, StrLt, StrMax, Type, type Static } from './fields.ts';
import { CommandIdx, CommandTypeField, ResourceQueryBody, StatusCodeField, ReplyMessage } from './common.ts';
import { DEVICE_TYPE_VALUES, IS_VALID_VALUES } from './codes.ts';

/** One precision/power pair ("int8" / "32 TOPS"). The table gives no length, so none is set. */
/** Tables 4 and 7 count TotalMemory and AvailableMemory in MB ("单位MB"), read as 2^20 bytes (what executors report). */
export const MEMORY_MB_BYTES = 1024 * 1024;

export const PowerEntry = Obj({ Precision: Type.String(), ComputingPower: Type.String() });

/**
 * Table 4 VideoProcessResource entry: a format and its decode and/or encode capacity —
 * "其解码能力和编码能力应至少填写一项", at least one of the two.
 */
export const VideoProcessCapacity = Obj({
  FormatName: StrLt(10),
  Decoding: Opt(Obj({ MaxResolution: StrMax(32), MaxPerf: Float({ minimum: 0 }) })),
  Encoding: Opt(Obj({ MaxResolution: StrMax(32), MaxPerf: Float({ minimum: 0 }) })),
}, { anyRequired: ['Decoding', 'Encoding'] });

/** Table 4 <TotalResource>. */
export const TotalResource = Obj({
  DeviceID: DeviceID(),
  DeviceType: StrEnum(DEVICE_TYPE_VALUES, 31),
  ProductType: Opt(StrMax(64)),
  ResourceInfo: Obj({
    IsValid: StrEnum(IS_VALID_VALUES, 1),
    SystemEnv: Opt(Obj({ EnvID: StrMax(24), EnvVersion: StrMax(64) })),
    CommonResource: Opt(Obj({ TotalMemory: Long({ minimum: 0 }), TotalStorage: Long({ minimum: 0 }), TotalBandwidth: Int32({ minimum: 0 }) })),
    ComputeResource: Opt(Obj({
      Chip: StrMax(64),
      DriverVersion: Opt(StrMax(64)),
      TotalPower: Arr(PowerEntry),
      TotalComputeMemory: Opt(Long({ minimum: 0 })),
    })),
    VideoProcessResource: Opt(Arr(VideoProcessCapacity)),
    PowerConsumption: Opt(StrMax(64)),
    ExtendInfo: Opt(JsonObject()),
  }),
});
export type TotalResource = Static<typeof TotalResource>;

/** Table 7 VideoProcessResource entry: at least one of the available decode and encode capacities. */
export const AvailableVideoProcess = Obj({
  FormatName: StrLt(10),
  AvailDecodePerf: Opt(Float({ minimum: 0 })),
  AvailEncodePerf: Opt(Float({ minimum: 0 })),
}, { anyRequired: ['AvailDecodePerf', 'AvailEncodePerf'] });

/** Table 7 <AvailableResource>. */
export const AvailableResource = Obj({
  DeviceID: DeviceID(),
  ResourceInfo: Obj({
    IsValid: StrEnum(IS_VALID_VALUES, 1),
    CommonResource: Opt(Obj({
      AvailableMemory: Opt(Long({ minimum: 0 })),
      AvailableStorage: Opt(Long({ minimum: 0 })),
      AvailableBandwidth: Opt(Int32({ minimum: 0 })),
      AvailableCPU: Opt(Int32({ minimum: 0, maximum: 100 })),
    })),
    ComputeResource: Opt(Obj({
      AvailablePower: Opt(Arr(PowerEntry)),
      AvailableComputeMemory: Opt(Long({ minimum: 0 })),
    })),
    VideoProcessResource: Opt(Arr(AvailableVideoProcess)),
    ExtendInfo: Opt(JsonObject()),
  }),
});
export type AvailableResource = Static<typeof AvailableResource>;

/** Table 2: total_res_query. */
export const TotalResQuery = Obj({
  CommandType: CommandTypeField('total_res_query'),
  CommandIdx: CommandIdx(),
  DeviceID: Opt(DeviceID()),
  MessageBody: ResourceQueryBody,
});
export type TotalResQuery = Static<typeof TotalResQuery>;

/** Table 3: reply to total_res_query. */
export const TotalResQueryReply = Obj({
  CommandType: CommandTypeField('total_res_query'),
  CommandIdx: CommandIdx(),
  StatusCode: StatusCodeField(),
  Message: Opt(ReplyMessage()),
  TotalResourceList: Arr(TotalResource),
});
export type TotalResQueryReply = Static<typeof TotalResQueryReply>;

/** Table 5: available_res_query. */
export const AvailableResQuery = Obj({
  CommandType: CommandTypeField('available_res_query'),
  CommandIdx: CommandIdx(),
  DeviceID: Opt(DeviceID()),
  MessageBody: ResourceQueryBody,
});
export type AvailableResQuery = Static<typeof AvailableResQuery>;

/** Table 6: reply to available_res_query. */
export const AvailableResQueryReply = Obj({
  CommandType: CommandTypeField('available_res_query'),
  CommandIdx: CommandIdx(),
  StatusCode: StatusCodeField(),
  Message: Opt(ReplyMessage()),
  AvailableResourceList: Arr(AvailableResource),
});
export type AvailableResQueryReply = Static<typeof AvailableResQueryReply>;
