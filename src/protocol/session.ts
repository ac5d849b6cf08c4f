/**
 * PROTOCOL.md's executor ↔ scheduler session bodies (GA/T 1400 style): Register, Keepalive,
 * UnRegister and Time, plus the paged TaskResult read-back.
 */
import { Arr, DeviceID, Int32, Latitude, Long, Longitude, Obj, Opt, StrEnum, StrMax, DateTime, type Static } from './fields.ts';
import { StatusCodeField, ReplyMessage } from './common.ts';
import { DEVICE_TYPE_VALUES } from './codes.ts';
import { TaskResultBody } from './task-result.ts';

/** `POST /System/Register` body. */
export const RegisterRequest = Obj({
  RegisterObject: Obj({
    DeviceID: DeviceID(),
    DeviceType: StrEnum(DEVICE_TYPE_VALUES, 31),
    ProductType: StrMax(64),
    DeviceName: Opt(StrMax(39)),
    CommandURL: Opt(StrMax(256, { format: 'uri-ish' })),
    Longitude: Opt(Longitude()),
    Latitude: Opt(Latitude()),
  }),
});
export type RegisterRequest = Static<typeof RegisterRequest>;

/** Reply to Register: the keepalive interval and the session token for later calls. */
export const RegisterReply = Obj({
  StatusCode: StatusCodeField(),
  Message: Opt(ReplyMessage()),
  KeepaliveInterval: Opt(Int32({ minimum: 1 })),
  SessionToken: Opt(StrMax(128)),
  SchedulerID: Opt(DeviceID()),
});
export type RegisterReply = Static<typeof RegisterReply>;

/** `POST /System/Keepalive` body. */
export const KeepaliveRequest = Obj({ KeepaliveObject: Obj({ DeviceID: DeviceID() }) });
export type KeepaliveRequest = Static<typeof KeepaliveRequest>;

/** `POST /System/UnRegister` body. */
export const UnRegisterRequest = Obj({ UnRegisterObject: Obj({ DeviceID: DeviceID() }) });
export type UnRegisterRequest = Static<typeof UnRegisterRequest>;

/** `GET /System/Time` reply. */
export const SystemTimeReply = Obj({
  StatusCode: StatusCodeField(),
  SystemTimeObject: Obj({ LocalTime: DateTime(), TimeZone: StrMax(64), UnixMs: Long() }),
});
export type SystemTimeReply = Static<typeof SystemTimeReply>;

/** `GET /System/TaskResult/{TaskID}` reply: stored task_result bodies, oldest first. */
export const TaskResultPage = Obj({
  StatusCode: StatusCodeField(),
  Message: Opt(ReplyMessage()),
  TaskID: StrMax(128),
  TaskResultList: Arr(TaskResultBody),
  /** Cursor for the next page; absent when this page reached the end. */
  Next: Opt(StrMax(64)),
});
export type TaskResultPage = Static<typeof TaskResultPage>;
