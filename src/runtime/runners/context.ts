/**
 * What a task runner needs of its executor: where results go, the outbox, the clock, the plugin
 * pool. Runners are plain functions over this, one file per kind of task.
 */
import type { TaskDispatchInfo, TaskResultBody } from '../../protocol/index.ts';
import type { Logger } from '../../log.ts';
import type { CorrectedClock } from '../clock.ts';
import type { Outbox } from '../outbox.ts';
import type { ExecTask } from '../exec-task.ts';
import type { FrameSource } from '../media/frame-source.ts';
import type { PluginPool } from '../../plugins/pool.ts';
import type { Batcher } from '../../plugins/batcher.ts';
import type { TrainPool } from '../../plugins/train-pool.ts';
import type { SampleStore } from '../sample-store.ts';
import type { FeedbackStore } from '../feedback-store.ts';
import type { ExecutorMetrics } from '../metrics.ts';
import type { ProxyLease } from '../../net/source-proxy.ts';

/** Pause a task's source when more than this many of its results wait in the outbox… */
export const OUTBOX_HIGH_WATER = 256;
/** …and go on once no more than this many wait. */
export const OUTBOX_LOW_WATER = 128;

export interface RunContext {
  readonly deviceId: string;
  readonly schedulerUrl?: string;
  readonly longitude?: string;
  readonly latitude?: string;
  readonly decoder?: 'auto' | 'native' | 'pipe';
  readonly clock: CorrectedClock;
  readonly log: Logger;
  readonly outbox: Outbox;
  /** True once the executor is shutting down. */
  readonly closed: boolean;
  destinations(info: TaskDispatchInfo): string[];
  /** Persists the task and queues its status report. */
  changed(t: ExecTask): void;
  pluginPool(): PluginPool;
  pluginBatcher(): Batcher;
  /** The sandbox pool training calls (rd_train) run in, made on first use (absent in tools that only infer). */
  trainPool?(): TrainPool;
  /** The executor's bounded sample store (hard examples, EC5). */
  readonly sampleStore?: SampleStore;
  /** DC7: samples a device's model acted on, waiting for rewards (AlgArgs.FeedbackSet). */
  readonly feedbackStore?: FeedbackStore;
  /** The Authorization header a fetch from `url` may carry (the node token, to trusted executors only). */
  authFor?(url: string): Promise<Record<string, string>>;
  /** Stage latencies and plugin calls, for /metrics. */
  readonly metrics: ExecutorMetrics;
  /** The proxy HTTP(S) sources go through (the URL policy on every redirect and playlist entry); absent in tools that open only local files. */
  readonly sourceProxy?: { lease(field: string): ProxyLease; readonly listening: boolean; start(): Promise<void> };
}

/** A runner that owns its own input: the handle stops it; `done` settles when it ends. */
export interface Started {
  handle: FrameSource;
  done: Promise<void>;
}

export type { TaskResultBody };
