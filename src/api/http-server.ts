/**
 * The fastify base every role builds on: JSON (and application/VIID+JSON) bodies, every error
 * answered as `{ StatusCode: "1", Message }`, bearer-token auth on every route but the ones a
 * role marks public, and nothing a client sends able to crash the process.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerFactory, type FastifyServerOptions } from 'fastify';
import * as nodeCrypto from 'node:crypto';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import { installSchemaCompilers } from './schema.ts';
import { isDocsPath, registerOpenApi } from './openapi.ts';
import { NODE, type Principal } from '../protocol/index.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the bearer token belongs to; null on public routes when a token is configured. */
    principal: Principal | null;
  }
}

/** Who besides a node may call a route: device sessions, initiators, initiators with the Publish right. */
export type Right = 'device' | 'initiator' | 'publisher';

/** What a route declares in its `config`: who may call it and how long its failure Message may be. */
export interface RouteConfig {
  /**
   * `public`: no token needed (time, Register with its own Digest check). Otherwise the node
   * token always passes, and these rights let other principals in. Default: the node only.
   */
  access?: 'public' | Right[];
  /** Table limit of this reply's Message (table 18: 128 bytes); default 512. */
  messageMaxBytes?: number;
}

export interface BaseServerOptions {
  logger: Logger;
  /** The node token; when unset the API is open (a warning is logged once). */
  token?: string;
  /** Who another bearer token belongs to (device sessions, initiators); the node token is checked here. */
  authenticate?: (token: string) => Principal | undefined;
  /** Describe the routes at `GET /openapi.json` and `/docs`, titled for this role. */
  openapi?: 'executor' | 'scheduler';
  /** Serve `GET /metrics` without a token (for a Prometheus on a trusted network). */
  metricsPublic?: boolean;
  /** Largest accepted body; task_result bodies carry images, so commands need room. */
  bodyLimit?: number;
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: Buffer; cert: Buffer };
  /** Count requests by route and status into this registry (served at /metrics). */
  metrics?: Registry;
  /** Serve on a server made elsewhere (handover-listener.ts: one socket, apps swapped behind it); it owns TLS then. */
  serverFactory?: FastifyServerFactory;
  /** Runs before authentication: a follower replica turns writes away whoever sends them. */
  preAuth?: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

/** `{ StatusCode: "0" }`, the plain success reply. */
export const OK = { StatusCode: '0' } as const;

/**
 * `{ StatusCode: "1", Message }`, the failure body of every route. Message is cut to the reply
 * table's limit: 512 bytes (table 21) unless the route's table says less (table 18: 128).
 */
export function failure(message: string, extra: Record<string, unknown> = {}, maxBytes = 512) {
  return { ...extra, StatusCode: '1' as const, Message: truncateBytes(message, maxBytes) };
}

/**
 * The Message limit a route declared (`config: { messageMaxBytes }`), so failures answered outside
 * the handler (bad JSON, auth) keep to the same table.
 */
function routeMessageMax(req: FastifyRequest): number {
  const c = req.routeOptions?.config as { messageMaxBytes?: unknown } | undefined;
  return typeof c?.messageMaxBytes === 'number' ? c.messageMaxBytes : 512;
}

/**
 * An internal error's text without the node's directory layout: absolute paths (from fs errors,
 * stack-ish messages) keep only their last part, so a 500 tells a caller what failed, not where
 * the data lives (issue 10). URLs (`scheme://…`) are left as they are.
 */
export function withoutPaths(s: string): string {
  return s.replace(/(^|[\s'"(=])\/(?:[^\s'"()/]+\/)+([^\s'"()/]*)/g, '$1…/$2');
}

/** Cuts a message to `max` UTF-8 bytes on a character boundary (Message fields are ≤512 bytes). */
export function truncateBytes(s: string, max: number): string {
  const buf = Buffer.from(s, 'utf8');
  if (buf.length <= max) return s;
  let end = max - 3;
  // end < max < buf.length, so buf[end] is in range.
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString('utf8') + '...';
}

/**
 * Constant time in the secret's content and its length: both sides are hashed to 32 bytes first
 * (the node's own token once, when the server is made: it is asked on every request).
 */
function secretMatcher(secret: string): (presented: string) => boolean {
  const y = sha256(secret);
  return (presented) => timingSafeEqual(sha256(presented), y);
}

/**
 * SHA-256 of a string. Every request is hashed: the one-shot `crypto.hash` (Node ≥ 20.12) makes
 * no Hash object for it (a third of what authentication cost at 9,000 requests a second).
 */
const oneShot = (nodeCrypto as unknown as { hash?: (alg: string, data: string, out: 'buffer') => Buffer }).hash;
const sha256 = (s: string): Buffer => (oneShot ? oneShot('sha256', s, 'buffer') : createHash('sha256').update(s).digest());

/** A refusal a handler throws: answered with its status and Message like any other failure. */
export class Refusal extends Error {
  constructor(readonly statusCode: number, message: string) {
    super(message);
    this.name = 'Refusal';
  }
}

/** A device session acts only as its own DeviceID (issue 10): throws 403 when `deviceId` (at `field`) is another's. */
export function actsAs(req: FastifyRequest, deviceId: string, field: string): void {
  const p = principalOf(req);
  if (p.kind === 'device' && p.deviceId !== deviceId) throw new Refusal(403, `${field}: a device session acts only as its own DeviceID ("${p.deviceId}"), not "${deviceId}"`);
}

/** Whether `p` may call a route that grants `access`. */
export function allowed(p: Principal, access: RouteConfig['access']): boolean {
  if (p.kind === 'node') return true;
  if (!Array.isArray(access)) return false;
  if (p.kind === 'device') return access.includes('device');
  return access.includes('initiator') || (access.includes('publisher') && p.policy.Publish === true);
}

/** The authenticated caller of a guarded route (the node on an API with no token). */
export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new Error(`route ${req.routeOptions.url ?? ''} is public: it has no principal`);
  return req.principal;
}

/** Creates the shared fastify instance (no routes yet). */
export function createBaseServer(opts: BaseServerOptions): FastifyInstance {
  const fopts: FastifyServerOptions = {
    loggerInstance: opts.logger,
    bodyLimit: opts.bodyLimit ?? 64 * 1024 * 1024,
    // Per-request log lines would drown the log of a busy node; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    // Requests that hang half-sent must not hold sockets forever.
    requestTimeout: 120_000,
    // A TaskID is up to 128 UTF-8 bytes: percent-encoded in a path that is up to 384 characters.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 512 },
    ...(opts.serverFactory ? { serverFactory: opts.serverFactory }
      : opts.tls ? { https: { key: opts.tls.key, cert: opts.tls.cert, minVersion: 'TLSv1.2' as const } } : {}),
  };
  const app = Fastify(fopts) as unknown as FastifyInstance;

  const json = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/viid+json', { parseAs: 'string' }, json);

  installSchemaCompilers(app);
  // Before any route: the generator collects routes as they are added.
  if (opts.openapi) registerOpenApi(app, opts.openapi);
  if (!opts.token) opts.logger.warn('no --token / RETINAD_TOKEN set: the API accepts unauthenticated requests');
  const isNodeToken = opts.token ? secretMatcher(opts.token) : undefined;
  app.decorateRequest('principal', null);
  if (opts.preAuth) app.addHook('onRequest', opts.preAuth);
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (!opts.token) { req.principal = NODE; return; }
    const access = (req.routeOptions.config as RouteConfig | undefined)?.access;
    if (access === 'public' || isDocsPath(req.routeOptions.url) || (opts.metricsPublic && req.routeOptions.url === '/metrics')) return;
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const token = m?.[1];
    const p = token === undefined ? undefined : isNodeToken?.(token) ? NODE : opts.authenticate?.(token);
    if (!p) {
      reply.code(401).header('WWW-Authenticate', 'Bearer realm="retinad"');
      return reply.send(failure(m ? 'Authorization: bearer token not accepted' : 'Authorization: a bearer token is required', {}, routeMessageMax(req)));
    }
    if (!allowed(p, access)) {
      const who = p.kind === 'device' ? `device session ${p.deviceId}` : p.kind === 'initiator' ? `initiator ${p.name}` : 'node';
      return reply.code(403).send(failure(`Authorization: a ${who} may not call ${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]}`, {}, routeMessageMax(req)));
    }
    req.principal = p;
  });

  if (opts.metrics) countRequests(app, opts.metrics);

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) req.log.error({ err }, 'request failed');
    const msg = status === 500 ? `internal error: ${withoutPaths(err.message)}` : err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError
      ? `body: malformed JSON (${err.message})` : `${err.message}`;
    void reply.code(status).send(failure(msg, {}, routeMessageMax(req)));
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(failure(`no route ${req.method} ${req.url.split('?')[0]}`));
  });
  return app;
}

/**
 * Requests by method, route pattern and status, counted when answered (401s and 404s too). The
 * route's pattern, not its URL, labels them: TaskIDs in paths must not make a series each.
 */
function countRequests(app: FastifyInstance, registry: Registry): void {
  const requests = new Counter({ name: 'retinad_http_requests_total', help: 'HTTP requests answered, by method, route pattern and status code', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const seconds = new Histogram({ name: 'retinad_http_request_duration_seconds', help: 'Time to answer an HTTP request, by route pattern', labelNames: ['method', 'route'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [registry] });
  // The labelled series, looked up once per method + route + status (prom-client hashes its labels on every lookup).
  const series = new Map<string, { count: { inc(): void }; time: { observe(v: number): void } }>();
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const key = `${req.method} ${reply.statusCode} ${route}`;
    let s = series.get(key);
    if (!s) series.set(key, s = { count: requests.labels(req.method, route, String(reply.statusCode)), time: seconds.labels(req.method, route) });
    s.count.inc();
    s.time.observe(reply.elapsedTime / 1000);
  });
}

/** Sends a 400 with the validation message, echoing fields when given. */
export function badRequest(reply: FastifyReply, message: string, extra: Record<string, unknown> = {}, maxBytes = 512) {
  return reply.code(400).send(failure(message, extra, maxBytes));
}
