/**
 * The scheduler's Prometheus metrics: placement latency and dispatch failures are pushed where
 * they happen; tasks per status and devices online are read from the store when scraped.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

const STATUS_NAME: Record<number, string> = { 0: 'done', 1: 'running', 2: 'paused', 3: 'queued', 4: 'error' };

/** What a scrape reads from the scheduler. */
export interface SchedulerMetricsSource {
  taskCounts(): Map<number, number>;
  devices(): Array<{ online: boolean | number }>;
}

export class SchedulerMetrics {
  readonly registry = new Registry();
  private readonly placement: Histogram<'outcome'>;
  private readonly dispatchFailures: Counter;

  constructor(src: SchedulerMetricsSource) {
    const r = [this.registry];
    this.placement = new Histogram({
      name: 'retinad_scheduler_placement_seconds', help: 'Time to place one subtask: rank the executors and dispatch until one accepts', labelNames: ['outcome'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: r,
    });
    this.dispatchFailures = new Counter({ name: 'retinad_scheduler_dispatch_failures_total', help: 'task_dispatch commands an executor refused or did not answer', registers: r });
    new Gauge({
      name: 'retinad_scheduler_tasks', help: 'Tasks by ExecutionStatus', labelNames: ['status'], registers: r,
      collect() {
        const n = src.taskCounts();
        for (const [code, name] of Object.entries(STATUS_NAME)) this.labels(name).set(n.get(Number(code)) ?? 0);
      },
    });
    new Gauge({
      name: 'retinad_scheduler_devices', help: 'Registered devices by liveness', labelNames: ['state'], registers: r,
      collect() {
        const d = src.devices();
        const online = d.filter((x) => !!x.online).length;
        this.labels('online').set(online);
        this.labels('offline').set(d.length - online);
      },
    });
  }

  /** One subtask placement: placed or not, and how long it took. */
  placed(ok: boolean, ms: number): void {
    this.placement.labels(ok ? 'placed' : 'unplaced').observe(ms / 1000);
  }

  dispatchFailed(): void {
    this.dispatchFailures.inc();
  }
}
