/** `GET /console` (scheduler): the operator's page. Public like /docs: it is a shell that asks for a token and reads the guarded routes. */
import type { FastifyPluginAsync } from 'fastify';
import { CONSOLE_HTML } from '../console-page.ts';

/** The console page. */
export function consoleRoutes(): FastifyPluginAsync {
  return async (app) => {
    app.get('/console', { config: { access: 'public' }, schema: { hide: true } }, async (_req, reply) =>
      reply.type('text/html; charset=utf-8').header('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'").send(CONSOLE_HTML));
  };
}
