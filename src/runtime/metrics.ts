/**
 * The executor's Prometheus metrics. Runners push what only they see (stage latencies, plugin
 * calls and failures); the rest (frames per task, fps, tasks per status, outbox backlog,
 * decoder backend) is read from the executor's rooms when scraped, so nothing is counted twice.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ExecTask } from './exec-task.ts';
import type { ExecutionStatus } from '../protocol/index.ts';

/** Where a frame's time goes, in the order it travels. */
export const STAGES = ['decode', 'preprocess', 'queue', 'inference', 'post'] as const;
export type Stage = (typeof STAGES)[number];

const STATUS_NAME = { 0: 'done', 1: 'running', 2: 'paused', 3: 'queued', 4: 'error' } as const satisfies Record<ExecutionStatus, string>;

/** What a scrape reads from the executor. */
export interface ExecutorMetricsSource {
  tasks(): Iterable<ExecTask>;
  /** Frames the task's decoder produced (before sampling); its last count once the source closed. */
  framesDecoded(taskId: string): number | undefined;
  outbox(): { backlog: number; oldestAgeMs: number };
  decoder(): { Active: string; FFmpegLibs: string | null };
}

/** Latency buckets in seconds: 1 ms to 10 s, for every stage. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class ExecutorMetrics {
  readonly registry = new Registry();
  private readonly stage: Histogram<'stage'>;
  private readonly calls: Counter<'algorithm'>;
  private readonly failures: Counter<'algorithm' | 'reason'>;
  /** Previous scrape's analysed count per task, for the fps gauge. */
  private readonly lastOut = new Map<string, { n: number; at: number }>();

  constructor(src: ExecutorMetricsSource) {
    const r = [this.registry];
    this.stage = new Histogram({ name: 'retinad_executor_stage_seconds', help: 'Per-frame latency by pipeline stage (decode = wait for the next sampled frame)', labelNames: ['stage'], buckets: BUCKETS, registers: r });
    this.calls = new Counter({ name: 'retinad_executor_plugin_calls_total', help: 'Plugin calls (one per frame, per crop)', labelNames: ['algorithm'], registers: r });
    this.failures = new Counter({ name: 'retinad_executor_plugin_failures_total', help: 'Plugin calls that failed, by reason (deadline, trap, output, abi, error)', labelNames: ['algorithm', 'reason'], registers: r });
    const self = this;
    const perTask = (name: string, help: string, value: (t: ExecTask) => number) => new Counter({
      name, help, labelNames: ['task'], registers: r,
      collect() { this.reset(); for (const t of src.tasks()) { const v = value(t); if (v > 0) this.labels(t.id).inc(v); } },
    });
    perTask('retinad_executor_frames_decoded_total', 'Frames the task\'s decoder produced (before sampling at TaskFrameRate)', (t) => src.framesDecoded(t.id) ?? 0);
    perTask('retinad_executor_frames_analysed_total', 'Sampled frames that produced a result', (t) => t.framesOut);
    perTask('retinad_executor_frames_dropped_total', 'Sampled frames that produced no result (failed plugin call)', (t) => Math.max(0, t.framesIn - t.framesOut));
    new Gauge({
      name: 'retinad_executor_task_fps', help: 'Frames analysed per second per running task, since the previous scrape', labelNames: ['task'], registers: r,
      collect() {
        this.reset();
        const now = Date.now();
        for (const t of src.tasks()) {
          if (t.status !== 1) { self.lastOut.delete(t.id); continue; }
          const prev = self.lastOut.get(t.id) ?? { n: 0, at: t.startedAt ?? now };
          const dt = (now - prev.at) / 1000;
          this.labels(t.id).set(dt > 0 ? (t.framesOut - prev.n) / dt : 0);
          self.lastOut.set(t.id, { n: t.framesOut, at: now });
        }
      },
    });
    new Gauge({
      name: 'retinad_executor_tasks', help: 'Tasks by ExecutionStatus', labelNames: ['status'], registers: r,
      collect() {
        const n: Record<(typeof STATUS_NAME)[ExecutionStatus], number> = { done: 0, running: 0, paused: 0, queued: 0, error: 0 };
        for (const t of src.tasks()) n[STATUS_NAME[t.status]]++;
        for (const [k, v] of Object.entries(n)) this.labels(k).set(v);
      },
    });
    new Gauge({ name: 'retinad_executor_outbox_backlog', help: 'Messages in the outbox not yet acknowledged', registers: r, collect() { this.set(src.outbox().backlog); } });
    new Gauge({ name: 'retinad_executor_outbox_oldest_age_seconds', help: 'Age of the oldest unacknowledged outbox message (0 when empty)', registers: r, collect() { this.set(src.outbox().oldestAgeMs / 1000); } });
    new Gauge({
      name: 'retinad_executor_decoder_info', help: 'Decoder backend in use (value 1; the labels say which)', labelNames: ['backend', 'ffmpeg'], registers: r,
      collect() { this.reset(); const d = src.decoder(); this.labels(d.Active, d.FFmpegLibs ?? 'none').set(1); },
    });
    new Gauge({
      name: 'retinad_executor_model_provider_info',
      help: 'Execution provider each model of a task runs on (value 1); requested is the manifest\'s resources.accelerator, fallback 1 when it was not granted',
      labelNames: ['task', 'model', 'provider', 'requested', 'fallback'], registers: r,
      collect() {
        this.reset();
        for (const t of src.tasks()) {
          for (const m of t.executionProviders) {
            const fellBack = m.RequestedAccelerator !== 'cpu' && m.RequestedAccelerator !== 'any' && m.ExecutionProvider === 'cpu';
            this.labels(t.id, m.Model, m.ExecutionProvider, m.RequestedAccelerator, fellBack ? '1' : '0').set(1);
          }
        }
      },
    });
  }

  /** One frame's time in a stage. */
  observeStage(stage: Stage, ms: number): void {
    this.stage.labels(stage).observe(ms / 1000);
  }

  pluginCall(algId: number | string): void {
    this.calls.labels(String(algId)).inc();
  }

  pluginFailure(algId: number | string, reason: string): void {
    this.failures.labels(String(algId), reason).inc();
  }
}
