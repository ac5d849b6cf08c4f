/** `GET /metrics` in Prometheus' text format: the role's registries merged. */
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';

/** Serves the role's registries merged at `GET /metrics`. */
export function registerMetricsRoute(app: FastifyInstance, registries: Registry[]): void {
  const merged = Registry.merge(registries);
  app.get('/metrics', async (_req, reply) => {
    const text = await merged.metrics();
    return reply.type(merged.contentType).send(text);
  });
}
