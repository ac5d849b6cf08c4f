/**
 * `GET /metrics` in Prometheus' text format, and the HTTP request counter every role shares
 * (counted in an onResponse hook, labelled by the route's pattern, not its URL, so task IDs in
 * paths do not make a series each).
 */
import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, Registry } from 'prom-client';

/** Counts requests by method, route pattern and status; returns the registry they are in. */
export function countHttpRequests(app: FastifyInstance): Registry {
  const registry = new Registry();
  const requests = new Counter({ name: 'retinad_http_requests_total', help: 'HTTP requests answered, by method, route pattern and status code', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const seconds = new Histogram({ name: 'retinad_http_request_duration_seconds', help: 'Time to answer an HTTP request, by route pattern', labelNames: ['method', 'route'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [registry] });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    requests.labels(req.method, route, String(reply.statusCode)).inc();
    seconds.labels(req.method, route).observe(reply.elapsedTime / 1000);
  });
  return registry;
}

/** Serves the role's registries merged at `GET /metrics`. */
export function registerMetricsRoute(app: FastifyInstance, registries: Registry[]): void {
  const merged = Registry.merge(registries);
  app.get('/metrics', async (_req, reply) => {
    const text = await merged.metrics();
    return reply.type(merged.contentType).send(text);
  });
}
