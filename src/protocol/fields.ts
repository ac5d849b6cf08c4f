/**
 * Field builders that turn the standard's table columns (type, 必选/可选, 长度) into schemas.
 * Lengths in the tables are UTF-8 bytes, so strings carry a `maxBytes` keyword that the
 * validator checks on the encoded form; "小于N字节" becomes maxBytes N-1, "小于等于N字节" N.
 */
import { Type, type TSchema, type TString, type TInteger, type TNumber, type TObject, type TProperties, type ObjectOptions } from '@sinclair/typebox';

export { Type };
export type { Static, TSchema } from '@sinclair/typebox';

/** A string of at most `maxBytes` UTF-8 bytes ("小于等于N字节"). */
export function StrMax(maxBytes: number, opts: Record<string, unknown> = {}): TString {
  return Type.String({ maxBytes, ...opts });
}

/** A string shorter than `n` UTF-8 bytes ("小于N字节"). */
export function StrLt(n: number, opts: Record<string, unknown> = {}): TString {
  return Type.String({ maxBytes: n - 1, ...opts });
}

/** "int, 4字节": a signed 32-bit integer. */
export function Int32(opts: { minimum?: number; maximum?: number; description?: string } = {}): TInteger {
  return Type.Integer({ minimum: -2147483648, maximum: 2147483647, ...opts });
}

/** "long, 8字节": a 64-bit integer, limited to what a JSON number carries exactly. */
export function Long(opts: { minimum?: number; maximum?: number; description?: string } = {}): TInteger {
  return Type.Integer({ minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER, ...opts });
}

/** "float, 4字节": a finite number. */
export function Float(opts: { minimum?: number; maximum?: number } = {}): TNumber {
  return Type.Number(opts);
}

/** DeviceID, "string 20字节": 1–20 bytes (GA/T 1400 codes are exactly 20 digits; shorter IDs are accepted). */
export function DeviceID(): TString {
  return Type.String({ minLength: 1, maxBytes: 20 });
}

/** TaskID and friends, "小于等于128字节", never empty. */
export function TaskIDField(): TString {
  return Type.String({ minLength: 1, maxBytes: 128 });
}

/** "datetime, 小于24字节", format "YYYY-MM-DD hh:mm:ss.ss". */
export function DateTime(): TString {
  return Type.String({ format: 'retina-datetime', maxBytes: 23 });
}

/** Longitude, "string 小于16字节", format n10,6. */
export function Longitude(): TString {
  return Type.String({ format: 'longitude', maxBytes: 15 });
}

/** Latitude, "string 小于16字节", format n10,6. */
export function Latitude(): TString {
  return Type.String({ format: 'latitude', maxBytes: 15 });
}

/** "base64Binary": standard base64 with padding. */
export function Base64(): TString {
  return Type.String({ format: 'base64' });
}

/** A string drawn from a closed list ("0：失败，1：成功"). */
export function StrEnum<const T extends readonly string[]>(values: T, maxBytes: number) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], maxBytes });
}

/** An int drawn from a closed list. */
export function IntEnum<const T extends readonly number[]>(values: T) {
  return Type.Unsafe<T[number]>({ type: 'integer', enum: [...values] });
}

/** How deep a free "JSON object" column may nest. */
export const JSON_OBJECT_MAX_DEPTH = 32;

/** A free "JSON object" column (ExtendInfo, AlgArgs …): any object, never an array or scalar, nested at most JSON_OBJECT_MAX_DEPTH deep. */
export function JsonObject(opts: ObjectOptions = {}) {
  return Type.Record(Type.String(), Type.Unknown(), { maxDepth: JSON_OBJECT_MAX_DEPTH, ...opts });
}

/** An object whose unknown members are ignored (PROTOCOL.md: "Unknown extra fields are ignored"). */
export function Obj<T extends TProperties>(props: T, opts: ObjectOptions = {}): TObject<T> {
  return Type.Object(props, opts);
}

export const Opt = Type.Optional;
export const Arr = <T extends TSchema>(item: T, opts: { minItems?: number; maxItems?: number } = {}) => Type.Array(item, opts);
