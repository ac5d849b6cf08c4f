/**
 * `GET /openapi.json` (OpenAPI 3.1) and a docs page at `/docs`, generated from the schemas the
 * routes declare — the same ones that validate requests — so the description cannot drift from
 * what the node accepts. Both are public: they describe the API and hold no data.
 */
import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { readFileSync } from 'node:fs';

// package.json is one level above both src/ (from source) and dist/ (installed).
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The protocol's own keywords, named as OpenAPI extensions so generic tools read the rest. */
function portable(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(portable);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'maxBytes') { out['x-maxBytes'] = v; continue; }
    if (k === 'ruleText') { out.description ??= v; continue; }
    if (k === 'anyRequired') { out['x-anyRequired'] = v; continue; }
    out[k] = portable(v);
  }
  return out;
}

/** Adds the OpenAPI document and its page; call before any route is added. */
export function registerOpenApi(app: FastifyInstance, role: 'executor' | 'scheduler'): void {
  // Queued, not awaited: plugins load in order when the server gets ready.
  void app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: `retinad ${role}`, version: VERSION,
        description: 'T/AI 116.6 device–edge–cloud collaboration interfaces as bound to HTTP by PROTOCOL.md. String lengths are UTF-8 bytes (x-maxBytes); every failure is { StatusCode: "1", Message } naming the field and the rule.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'The node token, or a session token from Register (devices)' } } },
      security: [{ bearer: [] }],
    },
    transform: ({ schema, url }) => ({ schema: portable(schema ?? {}) as typeof schema, url }),
  });
  // The page and its assets are public (see RouteConfig): a browser fetches them without a token.
  void app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });
  void app.register(async (child) => {
    child.get('/openapi.json', { config: { access: 'public' }, schema: { hide: true } }, async () => child.swagger());
  });
}

/** Paths of the docs page: public like the document itself. */
export function isDocsPath(url: string | undefined): boolean {
  return url === '/docs' || (url?.startsWith('/docs/') ?? false);
}
