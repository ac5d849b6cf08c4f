/** The executor's HTTP face: `POST /System/Command` plus `GET /System/Time` for peers. */
import type { FastifyInstance } from 'fastify';
import { formatRetinaDateTime } from '../protocol/index.ts';
import type { Executor } from '../runtime/executor.ts';
import type { Logger } from '../log.ts';
import { createBaseServer, failure } from './http-server.ts';
import { registerCommandRoute } from './command-route.ts';
import { Registry } from 'prom-client';
import { registerMetricsRoute } from './metrics-route.ts';

export function createExecutorServer(e: Executor, opts: { token?: string; log: Logger; tls?: { key: Buffer; cert: Buffer }; metricsPublic?: boolean }): FastifyInstance {
  const http = new Registry();
  const app = createBaseServer({ logger: opts.log, token: opts.token, tls: opts.tls, metrics: http,
    publicRoutes: ['GET /System/Time', 'HEAD /System/Time', ...(opts.metricsPublic ? ['GET /metrics'] : [])] });
  registerMetricsRoute(app, [http, e.metrics.registry]);
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  app.get('/System/Time', async () => {
    const now = e.clock.now();
    return { StatusCode: '0', SystemTimeObject: { LocalTime: formatRetinaDateTime(now), TimeZone: tz, UnixMs: now } };
  });
  // ED2 retrieval (our addition): nearest features among those other executors sent here.
  app.post('/System/FeatureSearch', async (req, reply) => {
    const b = req.body as { TaskID?: unknown; Vector?: unknown; K?: unknown } | undefined;
    if (!b || typeof b !== 'object') return reply.code(400).send(failure('body: expected { TaskID?, Vector, K? }'));
    if (!Array.isArray(b.Vector) || b.Vector.length === 0 || b.Vector.length > 65536 || !b.Vector.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      return reply.code(400).send(failure('Vector: must be a non-empty array of finite numbers'));
    }
    if (b.TaskID !== undefined && (typeof b.TaskID !== 'string' || b.TaskID.length > 128)) return reply.code(400).send(failure('TaskID: must be a string of at most 128 characters'));
    const k = b.K === undefined ? 10 : b.K;
    if (!Number.isInteger(k) || (k as number) < 1 || (k as number) > 1000) return reply.code(400).send(failure('K: must be an integer 1..1000'));
    return { StatusCode: '0', Matches: e.features.search((b.TaskID as string | undefined) ?? null, b.Vector as number[], k as number) };
  });
  registerCommandRoute(app, e.handlers(), {
    total_res_query: { TotalResourceList: [] },
    available_res_query: { AvailableResourceList: [] },
    algorithm_res_query: { AlgResourceList: [] },
    task_status_query: { TaskStatusSet: [] },
  });
  return app;
}
