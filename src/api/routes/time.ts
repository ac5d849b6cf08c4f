/** `GET /System/Time` (both roles): the node's clock, for peers to measure their offset. */
import type { FastifyPluginAsync } from 'fastify';
import { FailureReply, SystemTimeReply, formatRetinaDateTime } from '../../protocol/index.ts';

/** The one thing this route needs of a role: its clock. */
export interface TimeApi {
  /** Milliseconds since the epoch on this node's (corrected) clock. */
  now(): number;
}

/** `GET /System/Time`, public: a peer checks the clock before it holds a session. */
export function timeRoutes(api: TimeApi): FastifyPluginAsync {
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  return async (app) => {
    app.get('/System/Time', { config: { access: 'public' }, schema: { tags: ['session'], summary: 'The node\'s clock (public): LocalTime, TimeZone, UnixMs', response: { 200: SystemTimeReply, '4xx': FailureReply } } }, async () => {
      const now = api.now();
      return { StatusCode: '0' as const, SystemTimeObject: { LocalTime: formatRetinaDateTime(now), TimeZone: tz, UnixMs: now } };
    });
  };
}
