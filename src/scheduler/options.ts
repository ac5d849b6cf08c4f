/** The scheduler's options and the outcomes its intake returns. */
import type { Logger } from '../log.ts';
import type { CustomInfo, InitiatorPolicy, TaskBasicInfo } from '../protocol/index.ts';
import type { Clock } from './liveness.ts';
import type { Initiators } from './initiators.ts';
import type { TaskOrderStrategy } from './strategies/index.ts';
import type { UpstreamConfig } from './cascade/config.ts';
import type { SchedulerStateStore } from './store-types.ts';

/** An initiator submitting a task: its name (kept as the task's owner) and its policy. */
export interface TaskOwner { name: string; policy: InitiatorPolicy }

/** An accepted task (with the key its NotifyURL pushes are signed with), or why not. */
/** `short`: refused because no executor here can take it (cascade: the upper scheduler may place it, B.3). */
export type SubmitOutcome = { ok: true; taskId: string; notifyKey?: string } | { ok: false; message: string; busy?: { retryAfterSec: number }; short?: boolean };

/**
 * B.3 step 4, part of a task: the cascade hands the stages no executor here can take to the upper
 * scheduler (`send`: its TaskID for them, or why not), then, once the task is recorded here,
 * follows that part as this task's (`adopt`). Present only with an upstream.
 */
export interface PartAssist {
  send(basic: TaskBasicInfo, custom: CustomInfo, stages: string[], owner: TaskOwner | undefined): Promise<{ ok: true; upperId: string } | { ok: false; message: string }>;
  adopt(taskId: string, upperId: string, basic: TaskBasicInfo, custom: CustomInfo, stages: string[]): void;
}

export interface SchedulerOptions {
  deviceId: string;
  dataDir: string;
  /** URL executors use to reach this scheduler (results are sent here). */
  publicUrl: string;
  token?: string;
  /** Keepalive interval handed to executors, seconds; offline after 3 missed. */
  keepaliveSec?: number;
  /** Trusted publisher keys for the algorithm repository (default <data-dir>/trusted-keys). */
  trustedKeysDir?: string;
  pluginDevMode?: boolean;
  /** SB10: re-dispatches of a failed subtask. */
  maxRetries?: number;
  retryIntervalMs?: number;
  /** How long a retry waits for an executor when none is online (the only one restarting). */
  placementWaitMs?: number;
  /** How often stale algorithm lists are refreshed in the background (default 60 s). */
  algRefreshMs?: number;
  /** Let NotifyURLs point at loopback, link-local or this node's addresses (never at this scheduler itself). */
  allowPrivateUrls?: boolean;
  /** TaskRequests placed or being placed at once; past it, intake answers 503 (default 64). */
  maxIntake?: number;
  /** SB5: tasks running at once (default: no limit); changeable at run time (`PUT /System/SchedulingPolicy`). */
  maxConcurrentTasks?: number;
  /** M3, M5: the order waiting tasks start in (`--task-order`: a built-in name or a loaded module; default `priority`). */
  taskOrder?: TaskOrderStrategy;
  /** Time source for liveness (tests inject one; default Date.now). */
  now?: Clock;
  /** Initiators' credentials and policies (`--initiators FILE`). */
  initiators?: Initiators;
  /** Results kept per task; past it a task_result is refused (default 1,000,000). */
  maxResultsPerTask?: number;
  /** Publish results and status changes to this MQTT broker too (`--mqtt-url`). */
  mqtt?: { url: string; prefix?: string; password?: string };
  /** Cascade (5.2): the upper scheduler this one registers with as a device (`--upstream`). */
  upstream?: UpstreamConfig;
  /** How long a device below may take to answer a HierarchicalQuery "1" (default 3 s). */
  queryDeadlineMs?: number;
  /** B3, SB9: a store shared by replicas (etcd); default the SQLite file in the data dir. */
  store?: SchedulerStateStore;
  log: Logger;
}
