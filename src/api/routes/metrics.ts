/** `GET /metrics` in Prometheus' text format: the role's registries merged. */
import type { FastifyPluginAsync } from 'fastify';
import { Registry } from 'prom-client';

/** Serves the role's registries merged at `GET /metrics` (a token is needed unless the server says metrics are public). */
export function metricsRoutes(registries: Registry[]): FastifyPluginAsync {
  return async (app) => {
    const merged = Registry.merge(registries);
    app.get('/metrics', async (_req, reply) => {
      const text = await merged.metrics();
      return reply.type(merged.contentType).send(text);
    });
  };
}
