/** Schema pieces several clauses share: command headers, StatusCode, device query lists. */
import { Arr, DeviceID, Int32, IntEnum, Obj, Opt, StrEnum, StrLt, StrMax, Type, JsonObject, Longitude, Latitude, type TSchema } from './fields.ts';
import { HIERARCHICAL_QUERY_VALUES, EXECUTION_STATUS_VALUES } from './codes.ts';

/** StatusCode, "string 1字节": "0" or "1". */
export const StatusCodeField = () => StrEnum(['0', '1'] as const, 1);

/** CommandType, "小于20字节", fixed to one value per table. */
export const CommandTypeField = <const T extends string>(value: T) => Type.Unsafe<T>({ type: 'string', const: value, maxBytes: 19 });

/** CommandIdx, "int 4字节". */
export const CommandIdx = () => Int32();

/** Reply Message (table 18/21 style), ≤512 bytes where the table gives no other length. */
export const ReplyMessage = (max = 512) => StrMax(max);

/** ExecutionStatus (table 31). */
export const ExecutionStatusField = () => IntEnum(EXECUTION_STATUS_VALUES);

/**
 * ExceptionCode (table 31, "int 4字节"): the six codes of codes.ts, and "支持扩展其他情况" — other
 * codes may be added, with no range given — so any int is accepted from a peer.
 */
export const ExceptionCodeField = () => Int32();

/** ExceptionDesc (table 31, A.2): "小于等于512字节". Producers cut to it with `cutUtf8`. */
export const EXCEPTION_DESC_MAX_BYTES = 512;

/** One entry of a DeviceList query filter (tables 2, 5, 12, 28). */
export const DeviceQuery = Obj({
  DeviceID: DeviceID(),
  HierarchicalQuery: StrEnum(HIERARCHICAL_QUERY_VALUES, 1),
});

/** The resource-query filters shared by tables 2 and 5. */
export const ResourceQueryBody = Obj({
  DeviceList: Opt(Arr(DeviceQuery)),
  LongitudeMax: Opt(Longitude()),
  LongitudeMin: Opt(Longitude()),
  LatitudeMax: Opt(Latitude()),
  LatitudeMin: Opt(Latitude()),
  ProductType: Opt(StrMax(64)),
  Chip: Opt(StrMax(64)),
  DriverVersion: Opt(StrMax(64)),
  ExtendCond: Opt(JsonObject()),
});

/** A plain `{ StatusCode, Message? }` reply (tables 9, 11, 18 base, 33). */
export const BasicReply = Obj({ StatusCode: StatusCodeField(), Message: Opt(ReplyMessage()) });

export { StrLt };

/** The byte limit of a reply schema's Message member (512 where the reply has no such member). */
export function messageMaxBytes(schema: TSchema): number {
  const m = (schema as { properties?: Record<string, { maxBytes?: unknown }> }).properties?.Message?.maxBytes;
  return typeof m === 'number' ? m : 512;
}
