/**
 * The standard's enumerations, each defined once. Where a table says "支持扩展" (extensible),
 * the known values are listed and the schema also admits the other values the text allows.
 */

/** StatusCode of every reply: "0" success, "1" failure. */
export const StatusCode = { Success: '0', Failure: '1' } as const;
export type StatusCode = (typeof StatusCode)[keyof typeof StatusCode];

/** Table 31 ExecutionStatus. */
export const ExecutionStatus = { Done: 0, Running: 1, Paused: 2, Queued: 3, Error: 4 } as const;
export type ExecutionStatus = (typeof ExecutionStatus)[keyof typeof ExecutionStatus];
export const EXECUTION_STATUS_VALUES = [0, 1, 2, 3, 4] as const;

/** Table 31 ExceptionCode. "支持扩展其他情况" names no range for other codes, so any int is accepted. */
export const ExceptionCode = {
  EnvUnsupported: 10,
  ShortOfResources: 20,
  UpstreamFailed: 30,
  TooSlow: 40,
  RunError: 50,
  DataSourceError: 60,
} as const;
export type ExceptionCode = (typeof ExceptionCode)[keyof typeof ExceptionCode];
export const EXCEPTION_CODE_VALUES = [10, 20, 30, 40, 50, 60] as const;

/**
 * ExceptionCodes of ours, by table 31's "支持扩展其他情况". 90: ended by task_ops_control Stop.
 * Table 31 has no ExecutionStatus for a stopped task and does not declare ExecutionStatus
 * extensible, so a stopped task or subtask reports ExecutionStatus 0 (it has ended) with
 * ExceptionCode 90 — a state of its own that clients of the table still read as "ended"
 * (docs/CONFORMANCE.md, departures).
 */
export const ExtendedExceptionCode = { Stopped: 90 } as const;

/** Table 23 Control. */
export const Control = { Start: 0, Stop: 1, Pause: 2, Resume: 3, UpdateArgs: 4 } as const;
export type Control = (typeof Control)[keyof typeof Control];
export const CONTROL_VALUES = [0, 1, 2, 3, 4] as const;

/** Table 20 TaskAttr: 0 resident, 1 time window; "2以上支持扩展". */
export const TaskAttr = { Resident: 0, TimeWindow: 1 } as const;

/** Table 4 DeviceType (a string): 0 device, 1 edge, 2 cloud. */
export const DeviceType = { Device: '0', Edge: '1', Cloud: '2' } as const;
export type DeviceType = (typeof DeviceType)[keyof typeof DeviceType];
export const DEVICE_TYPE_VALUES = ['0', '1', '2'] as const;

/** Table 14 AlgStatus: 0 in use, 1 unused, 2 invalid; "3以上为扩展状态". */
export const AlgStatus = { InUse: 0, Unused: 1, Invalid: 2 } as const;

/** Table 26 AnalysisResult Type: 0 face, 1 body, 2 vehicle, 3 object, 4 scene; extensible. */
export const ResultType = { Face: 0, Body: 1, Vehicle: 2, Object: 3, Scene: 4 } as const;

/** HierarchicalQuery: "0" this node only, "1" also the devices below it. */
export const HierarchicalQuery = { No: '0', Yes: '1' } as const;
export const HIERARCHICAL_QUERY_VALUES = ['0', '1'] as const;

/** IsValid of a resource report. */
export const IS_VALID_VALUES = ['Y', 'N'] as const;

/** Clause 6.3 task types, numbered in PROTOCOL.md's order. */
export const TaskType = {
  FrameExtraction: 1,
  PreProcessing: 2,
  VideoImageCodec: 3,
  FeatureCodec: 4,
  ModelCompression: 5,
  ClassicAlgorithm: 6,
  AITraining: 7,
  AIInference: 8,
  FeatureRetrieval: 9,
  DataFusion: 10,
} as const;

/** The command types of tables 2, 5, 12, 19, 22, 25 and 28. */
export const CommandType = {
  TotalResQuery: 'total_res_query',
  AvailableResQuery: 'available_res_query',
  AlgorithmResQuery: 'algorithm_res_query',
  TaskDispatch: 'task_dispatch',
  TaskOpsControl: 'task_ops_control',
  TaskResult: 'task_result',
  TaskStatusQuery: 'task_status_query',
} as const;
export type CommandType = (typeof CommandType)[keyof typeof CommandType];
export const COMMAND_TYPE_VALUES = Object.values(CommandType) as CommandType[];
