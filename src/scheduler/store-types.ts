/**
 * The scheduler's durable state as the rooms see it: the rows, and the SchedulerStateStore
 * interface (SQLite, store.ts, is the default implementation).
 */
import { ExecutionStatus } from '../protocol/index.ts';
import type { AlgResource, AvailableResource, CustomInfo, TaskBasicInfo, TaskDispatchInfo, TaskResultBody, TotalResource } from '../protocol/index.ts';

export interface DeviceRow {
  device_id: string;
  device_type: string;
  product_type: string;
  device_name: string | null;
  command_url: string | null;
  longitude: string | null;
  latitude: string | null;
  online: number;
  enabled: number;
  registered_at: number;
  last_seen: number;
  total_resource: string | null;
  available_resource: string | null;
  alg_resource: string | null;
  alg_checked_at: number;
}

/** Statuses of a subtask that is not over: running, paused, queued. */
export const ACTIVE_STATUSES: readonly number[] = [ExecutionStatus.Running, ExecutionStatus.Paused, ExecutionStatus.Queued];

export interface TaskRow {
  task_id: string;
  basic_info: string;
  custom_info: string;
  status: number;
  exception_code: number | null;
  exception_desc: string | null;
  created_at: number;
  updated_at: number;
  /** The initiator that submitted it; null when a node did. */
  owner: string | null;
}

export interface SubtaskRow {
  subtask_id: string;
  task_id: string;
  device_id: string;
  dispatch_info: string;
  status: number;
  progress: number;
  exception_code: number | null;
  exception_desc: string | null;
  attempts: number;
  created_at: number;
  updated_at: number;
}

export interface StoredResult {
  seq: number;
  body: TaskResultBody;
}

/** What the scheduler's rooms need of durable state; SQLite is the default implementation, etcd/ the one for replicas. */
export interface SchedulerStateStore {
  upsertDevice(d: DeviceInput, now?: number): void;
  device(id: string): DeviceRow | undefined;
  devices(): DeviceRow[];
  touchDevice(id: string, at?: number): boolean;
  setOnline(id: string, online: boolean): void;
  setEnabled(id: string, enabled: boolean): boolean;
  deleteDevice(id: string): boolean;
  deleteTask(taskId: string): boolean;
  setTotalResource(r: TotalResource): boolean;
  setAvailableResource(r: AvailableResource): boolean;
  setAlgResource(id: string, r: AlgResource, at?: number): void;
  insertTask(taskId: string, basic: TaskBasicInfo, custom: CustomInfo, status: number, owner?: string | null): void;
  task(id: string): TaskRow | undefined;
  recentTasks(limit: number, owner?: string): TaskRow[];
  tasksByStatus(statuses: readonly number[]): TaskRow[];
  taskCountsByStatus(): Map<number, number>;
  setTaskStatus(id: string, status: number, exceptionCode?: number | null, exceptionDesc?: string | null): boolean;
  insertSubtask(s: SubtaskInput): void;
  setSubtaskDispatch(id: string, dispatch: TaskDispatchInfo): void;
  subtask(id: string): SubtaskRow | undefined;
  subtasks(taskId: string): SubtaskRow[];
  subtasksOnDevice(deviceId: string, statuses: readonly number[]): SubtaskRow[];
  activeCount(deviceId: string): number;
  activeCountByDevice(): ReadonlyMap<string, number>;
  setSubtaskStatus(id: string, u: SubtaskStatusUpdate): boolean;
  statusHistory(taskId: string, taskOnly?: boolean): Array<{ status: number; subtask_id: string | null; at: number }>;
  insertResult(taskId: string, body: TaskResultBody, dedupKey: string | null): boolean;
  results(taskId: string, after: number, limit: number, maxBytes?: number): StoredResult[] & { full?: boolean };
  resultCount(taskId: string): number;
  resumeAfterMs(subtaskId: string, frameMs: number): number | null;
  /** Runs `fn` in one transaction (a burst of writes commits once). */
  batch<T>(fn: () => T): T;
  /**
   * Resolves once every write made before the call is committed (at once for SQLite, whose
   * writes are synchronous; the etcd store commits in the background). Rejects when the writes
   * can no longer be committed (the etcd store lost its leadership).
   */
  durable(): Promise<void>;
  /** Closes the store; the etcd store first waits (bounded) for its writes to commit. */
  close(): void | Promise<void>;
}

export interface DeviceInput { deviceId: string; deviceType: string; productType: string; deviceName?: string; commandUrl?: string; longitude?: string; latitude?: string }
export interface SubtaskInput { subtaskId: string; taskId: string; deviceId: string; dispatch: TaskDispatchInfo; status: number; attempts?: number }
export interface SubtaskStatusUpdate { status: number; progress?: number; exceptionCode?: number | null; exceptionDesc?: string | null }
