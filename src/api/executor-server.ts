/** The executor's HTTP face: `POST /System/Command`, `GET /System/Time` for peers, feature search and metrics. */
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import type { Executor } from '../runtime/executor.ts';
import type { Logger } from '../log.ts';
import { createBaseServer } from './http-server.ts';
import { timeRoutes } from './routes/time.ts';
import { featureRoutes } from './routes/features.ts';
import { executorPolicyRoutes } from './routes/executor-policy.ts';
import { commandRoutes } from './routes/command.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { sampleRoutes } from './routes/samples.ts';

export function createExecutorServer(e: Executor, opts: { token?: string; log: Logger; tls?: { key: Buffer; cert: Buffer }; metricsPublic?: boolean }): FastifyInstance {
  const http = new Registry();
  const app = createBaseServer({ logger: opts.log, token: opts.token, tls: opts.tls, metrics: http, metricsPublic: opts.metricsPublic, openapi: 'executor' });
  void app.register(metricsRoutes([http, e.metrics.registry]));
  void app.register(timeRoutes({ now: () => e.clock.now() }));
  void app.register(sampleRoutes({ sampleSet: (name) => e.samples.read(name) ?? e.feedback.read(name), giveFeedback: (name, entries) => e.feedback.give(name, entries) }));
  void app.register(executorPolicyRoutes(e));
  void app.register(featureRoutes({ featureSearch: (q) => e.features.search(q.TaskID ?? null, q.Vector, q.K ?? 10) }));
  void app.register(commandRoutes(e.handlers(), { fence: (h) => e.admitEpoch(h), failureExtras: {
    total_res_query: { TotalResourceList: [] },
    available_res_query: { AvailableResourceList: [] },
    algorithm_res_query: { AlgResourceList: [] },
    task_status_query: { TaskStatusSet: [] },
  } }));
  return app;
}
