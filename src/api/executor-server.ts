/** The executor's HTTP face: `POST /System/Command` plus `GET /System/Time` for peers. */
import type { FastifyInstance } from 'fastify';
import { formatRetinaDateTime } from '../protocol/index.ts';
import type { Executor } from '../runtime/executor.ts';
import type { Logger } from '../log.ts';
import { createBaseServer } from './http-server.ts';
import { registerCommandRoute } from './command-route.ts';

export function createExecutorServer(e: Executor, opts: { token?: string; log: Logger }): FastifyInstance {
  const app = createBaseServer({ logger: opts.log, token: opts.token, publicRoutes: ['GET /System/Time', 'HEAD /System/Time'] });
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  app.get('/System/Time', async () => {
    const now = e.clock.now();
    return { StatusCode: '0', SystemTimeObject: { LocalTime: formatRetinaDateTime(now), TimeZone: tz, UnixMs: now } };
  });
  registerCommandRoute(app, e.handlers(), {
    total_res_query: { TotalResourceList: [] },
    available_res_query: { AvailableResourceList: [] },
    algorithm_res_query: { AlgResourceList: [] },
    task_status_query: { TaskStatusSet: [] },
  });
  return app;
}
