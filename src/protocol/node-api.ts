/**
 * Schemas of the HTTP paths PROTOCOL.md binds (and the ones we add, as it allows): route
 * parameters, query strings and the replies that are not a clause-9 table of their own. Each
 * route in api/ declares these, so validation, the reply's shape and the OpenAPI document come
 * from one place.
 */
import { Arr, DeviceID, Float, Int32, JsonObject, Long, Obj, Opt, StrLt, StrMax, TaskIDField, Type, DateTime, type Static } from './fields.ts';
import { StatusCodeField, ReplyMessage } from './common.ts';
import { DevTaskStatus } from './task-status.ts';
import { TaskInfo } from './task-info.ts';
import { TaskTopologyRecord } from './topology.ts';
import { AlgInfo } from './algorithm.ts';
import { TotalResource, AvailableResource } from './resource.ts';
import { DEVICE_TYPE_VALUES } from './codes.ts';

/** `{ StatusCode, Message? }`: the failure reply of every route, and the success of most PATCH/POST. */
export const FailureReply = Obj({ StatusCode: StatusCodeField(), Message: Opt(ReplyMessage()) });

/** `/System/TaskInfo/{TaskID}` and `/System/TaskResult/{TaskID}`. */
export const TaskIDParams = Obj({ TaskID: TaskIDField() });

/** `PATCH /System/TaskStatus` (table 32): one DevTaskStatus, or a non-empty array of them. */
export const TaskStatusReport = Type.Unsafe<DevTaskStatus | DevTaskStatus[]>({
  if: { type: 'array' },
  then: { type: 'array', items: DevTaskStatus, minItems: 1, ruleText: 'must hold at least one DevTaskStatus' },
  else: DevTaskStatus,
});

/** `GET /System/TaskInfo/{TaskID}` reply (Annex A). */
export const TaskInfoReply = Obj({ StatusCode: StatusCodeField(), Message: Opt(ReplyMessage()), TaskInfo: Opt(TaskInfo) });
/** `GET /System/TaskTopology/{TaskID}`: the record TaskInfo.TaskTopology names (S1). */
export const TaskTopologyReply = Obj({ StatusCode: StatusCodeField(), Message: Opt(ReplyMessage()), TaskTopology: Opt(TaskTopologyRecord) });

/** One task in `GET /System/TaskList` (ours): what a console lists. */
export const TaskSummary = Obj({
  TaskID: TaskIDField(),
  TaskName: StrMax(128),
  ExecutionStatus: Int32(),
  Progress: Int32({ minimum: 0, maximum: 100 }),
  Subtasks: Int32({ minimum: 0 }),
  Results: Long({ minimum: 0 }),
  CreateTime: DateTime(),
  UpdateTime: DateTime(),
});

/** `GET /System/TaskList?limit=` (ours): the newest tasks first. */
export const TaskListQuery = Obj({ limit: Opt(Type.String({ pattern: '^(?:[1-9]\\d?|[1-4]\\d\\d|500)$', ruleText: 'must be an integer 1..500' })) });
export const TaskListReply = Obj({ StatusCode: StatusCodeField(), TaskList: Arr(TaskSummary) });
export type TaskListReply = Static<typeof TaskListReply>;

/** `GET /System/TaskHistory/{TaskID}` (ours): every status the task and its subtasks went through. */
export const TaskHistoryReply = Obj({
  StatusCode: StatusCodeField(),
  TaskID: TaskIDField(),
  History: Arr(Obj({ At: DateTime(), SubtaskID: Opt(StrMax(200)), ExecutionStatus: Int32() })),
});
export type TaskHistoryReply = Static<typeof TaskHistoryReply>;

/** Largest page of `GET /System/TaskResult/{TaskID}`. */
export const RESULT_PAGE_MAX = 500;

/** `GET /System/TaskResult/{TaskID}?after=&limit=` (ours): a cursor and a page size. */
export const TaskResultQuery = Obj({
  after: Opt(Type.String({ pattern: '^\\d{0,15}$', ruleText: 'must be a cursor returned as Next (a non-negative integer)' })),
  limit: Opt(Type.String({ pattern: '^(?:[1-9]\\d?|[1-4]\\d\\d|500)$', ruleText: `must be an integer 1..${RESULT_PAGE_MAX}` })),
});
export type TaskResultQuery = Static<typeof TaskResultQuery>;

/** One package in the algorithm repository (ours). */
export const RepositoryEntry = Obj({
  AlgID: Long({ minimum: 0 }),
  AlgType: StrMax(64),
  AlgVersion: StrMax(64),
  size: Long({ minimum: 0 }),
  signedBy: Type.Union([StrMax(128), Type.Null()]),
  AlgFileURL: StrMax(512),
  /** EC7: the peer (DeviceID) this version was transferred from; absent when published here. */
  TransferredFrom: Opt(StrMax(20)),
});
export type RepositoryEntry = Static<typeof RepositoryEntry>;

/** `POST /System/AlgorithmRepository` reply: the published entry. */
export const PublishReply = Obj({ StatusCode: StatusCodeField(), Message: Opt(ReplyMessage()), ...RepositoryEntry.properties });

/** `GET /System/AlgorithmRepository` reply. */
export const RepositoryListReply = Obj({ StatusCode: StatusCodeField(), AlgorithmList: Arr(RepositoryEntry) });

/** `/System/AlgorithmRepository/{AlgID}/{AlgVersion}.rpk`. */
export const PackageParams = Obj({
  AlgID: Type.String({ pattern: '^\\d{1,10}$', ruleText: 'must be a decimal AlgID' }),
  file: Type.String({ pattern: '^.{1,64}\\.rpk$', ruleText: 'must be <AlgVersion>.rpk' }),
});

/** One executor as the scheduler knows it (`GET /System/DeviceList`, ours). */
export const DeviceEntry = Obj({
  DeviceID: DeviceID(),
  DeviceType: Type.Unsafe<string>({ type: 'string', enum: [...DEVICE_TYPE_VALUES] }),
  ProductType: StrMax(64),
  Online: Type.Boolean(),
  /** SM1: a disabled executor is kept but not chosen by placement. */
  Enabled: Type.Boolean(),
  CommandURL: Type.Union([StrMax(256), Type.Null()]),
  LastSeen: DateTime(),
  AlgInfoList: Arr(AlgInfo),
  TotalResource: Type.Union([TotalResource, Type.Null()]),
  AvailableResource: Type.Union([AvailableResource, Type.Null()]),
});
export type DeviceEntry = Static<typeof DeviceEntry>;

/** `GET /System/DeviceList` reply; `Next` is the cursor of the next page (absent on the last). */
export const DeviceListReply = Obj({ StatusCode: StatusCodeField(), DeviceList: Arr(DeviceEntry), Host: StrMax(255), Next: Opt(DeviceID()) });

/** Largest page of `GET /System/DeviceList` (and its default). */
export const DEVICE_PAGE_MAX = 1000;

/** `GET /System/DeviceList?after=&limit=&online=&enabled=&deviceType=&algId=` (SM2 at fleet scale): paged, filtered. */
export const DeviceListQuery = Obj({
  after: Opt(Type.String({ minLength: 1, maxLength: 60, ruleText: 'must be a DeviceID returned as Next' })),
  limit: Opt(Type.String({ pattern: '^(?:[1-9]\\d{0,2}|1000)$', ruleText: `must be an integer 1..${DEVICE_PAGE_MAX}` })),
  online: Opt(Type.Unsafe<'0' | '1'>({ type: 'string', enum: ['0', '1'] })),
  enabled: Opt(Type.Unsafe<'0' | '1'>({ type: 'string', enum: ['0', '1'] })),
  deviceType: Opt(Type.Unsafe<string>({ type: 'string', enum: [...DEVICE_TYPE_VALUES] })),
  algId: Opt(Type.String({ pattern: '^\\d{1,10}$', ruleText: 'must be a decimal AlgID' })),
});
export type DeviceListQuery = Static<typeof DeviceListQuery>;

/** `POST /System/DeviceManage` (SM1): add, remove, enable or disable executors, one or many. */
export const DeviceManageRequest = Obj({
  Action: Type.Unsafe<'add' | 'remove' | 'enable' | 'disable'>({ type: 'string', enum: ['add', 'remove', 'enable', 'disable'] }),
  DeviceList: Arr(Obj({
    DeviceID: DeviceID(),
    DeviceType: Opt(Type.Unsafe<string>({ type: 'string', enum: [...DEVICE_TYPE_VALUES] })),
    ProductType: Opt(StrMax(64)),
    CommandURL: Opt(StrMax(256, { format: 'uri-ish' })),
  }), { minItems: 1, maxItems: 1000 }),
});
export type DeviceManageRequest = Static<typeof DeviceManageRequest>;

/** Its reply: one outcome per device, in order; StatusCode "1" when any failed. */
export const DeviceManageReply = Obj({
  StatusCode: StatusCodeField(),
  Message: Opt(ReplyMessage()),
  Results: Arr(Obj({ DeviceID: DeviceID(), StatusCode: StatusCodeField(), Message: Opt(ReplyMessage()) })),
});
export type DeviceManageReply = Static<typeof DeviceManageReply>;
export type DeviceListReply = Static<typeof DeviceListReply>;

/** `POST /System/FeatureSearch` (ours, ED2 retrieval): nearest stored features to a vector. */
export const FeatureSearchRequest = Obj({
  TaskID: Opt(StrMax(128)),
  Vector: Type.Array(Float(), { minItems: 1, maxItems: 65536, ruleText: 'must be a non-empty array of finite numbers (at most 65536)' }),
  K: Opt(Int32({ minimum: 1, maximum: 1000 })),
});
export type FeatureSearchRequest = Static<typeof FeatureSearchRequest>;

/** One match of a FeatureSearch. */
export const FeatureMatch = Obj({ TaskID: StrMax(128), DeviceID: StrMax(200), Ts: Long(), Pts: Opt(Float()), Score: Float(), Collection: StrMax(128) });

/** `POST /System/FeatureSearch` reply. */
export const FeatureSearchReply = Obj({ StatusCode: StatusCodeField(), Matches: Arr(FeatureMatch) });

/** `POST /System/TaskUpdate/{TaskID}` (ours, SB2): a deployed task on a new version or arguments, on all its executors. */
export const TaskUpdateRequest = Obj({
  AlgVersion: Opt(StrLt(20, { minLength: 1 })),
  AlgArgs: Opt(JsonObject()),
  MaxParallel: Opt(Int32({ minimum: 1, maximum: 64 })),
});
export type TaskUpdateRequest = Static<typeof TaskUpdateRequest>;

/** Its reply: one outcome per running subtask; StatusCode "1" when any executor refused (it runs the old version on). */
export const TaskUpdateReply = Obj({
  StatusCode: StatusCodeField(),
  Message: Opt(ReplyMessage()),
  Results: Arr(Obj({ SubtaskID: StrMax(128), DeviceID: DeviceID(), StatusCode: StatusCodeField(), Message: Opt(ReplyMessage()) })),
});
export type TaskUpdateReply = Static<typeof TaskUpdateReply>;

/** At most this many feedback entries in one `POST /System/Samples/{Set}/Feedback` (a set holds at most 10,000 samples). */
export const FEEDBACK_MAX_ENTRIES = 10_000;

/** `/System/Samples/{Set}/Feedback`: a feedback set's name (also a file name: letters, digits, `_`, `-`). */
export const FeedbackParams = Obj({ Set: StrMax(64, { pattern: '^[A-Za-z0-9_-]{1,64}$' }) });

/**
 * `POST /System/Samples/{Set}/Feedback` (ours, DC7): the application's verdict on results a
 * device's model gave — per result (its Pts), a reward in 0..1 (bandit feedback: 1 the action
 * was right, 0 it was not) and optionally the right class.
 */
export const FeedbackRequest = Obj({
  Feedback: Arr(Obj({
    Pts: Long({ minimum: 0 }),
    Reward: Float({ minimum: 0, maximum: 1 }),
    Label: Opt(Int32({ minimum: 0, maximum: 254 })),
  }, { additionalProperties: false }), { minItems: 1, maxItems: FEEDBACK_MAX_ENTRIES }),
}, { additionalProperties: false });
export type FeedbackRequest = Static<typeof FeedbackRequest>;

/** Its reply: how many kept samples the feedback reached, and the Pts that named none. */
export const FeedbackReply = Obj({ StatusCode: StatusCodeField(), Applied: Int32({ minimum: 0 }), Unmatched: Arr(Long({ minimum: 0 }), { maxItems: FEEDBACK_MAX_ENTRIES }) });
export type FeedbackReply = Static<typeof FeedbackReply>;
