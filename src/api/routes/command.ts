/**
 * `POST /System/Command`: the envelope is the route's schema; then the command's own table schema
 * (compiled once per type) is checked, and the role's handler runs once per (sender, CommandIdx).
 * The reply always echoes CommandType and CommandIdx, also on failure, so a caller can match it.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { COMMAND_REPLY_SCHEMAS, COMMAND_SCHEMAS, CommandEnvelope, Type, FailureReply, REPLY_MESSAGE_MAX_BYTES, parse, type CommandContext, type CommandHandlers, type CommandReplyBody, type CommandType, type Principal, type Static, principalKey } from '../../protocol/index.ts';
import { CommandDedup } from './dedup.ts';
import { allowed, failure, principalOf, truncateBytes, withoutPaths, type Right } from '../http-server.ts';

/**
 * Sender identity for de-duplication: the authenticated principal first, then the `X-Sender-ID`
 * header our nodes send (else address + envelope DeviceID) to tell apart the processes that
 * share it. A header alone would let any caller fill another sender's keys (issue 10).
 */
export function senderOf(req: FastifyRequest, principal: Principal, deviceId?: string): string {
  const h = req.headers['x-sender-id'];
  const who = typeof h === 'string' && h.length > 0 && h.length <= 200 ? h : `${req.ip}|${deviceId ?? ''}`;
  return `${principalKey(principal)}|${who}`;
}

/** What can be echoed of a command, even a broken one. */
function echoOf(body: unknown): Record<string, unknown> {
  const raw = (body && typeof body === 'object' && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
  const echo: Record<string, unknown> = {};
  if (typeof raw.CommandType === 'string' && raw.CommandType.length < 20) echo.CommandType = raw.CommandType;
  if (Number.isInteger(raw.CommandIdx)) echo.CommandIdx = raw.CommandIdx;
  return echo;
}

/** Any command's reply table (the one of its CommandType; each echoes CommandType and CommandIdx). */
const CommandReply = Type.Union(Object.values(COMMAND_REPLY_SCHEMAS));

export type CommandReplyCache = CommandDedup<{ code: number; body: Record<string, unknown> }>;

/** How the command route is set up for a role. */
export interface CommandRouteOptions {
  /** Members a failed reply of that type still carries (an empty list where the table makes it mandatory). */
  failureExtras?: Partial<Record<CommandType, Record<string, unknown>>>;
  /** Who besides a node may send each type (a scheduler: devices send task_result, initiators control their tasks). */
  access?: Partial<Record<CommandType, Right[]>>;
  /** Leader fencing (X-Retinad-Epoch): null when the command may run, else the refusal (nothing runs). */
  fence?: (epochHeader: string | string[] | undefined) => { status: number; message: string } | null;
}

/** The command route with the role's handlers. */
export function commandRoutes(handlers: CommandHandlers, o: CommandRouteOptions = {}, dedup: CommandReplyCache = new CommandDedup((r) => r.code === 200 && r.body.StatusCode === '0')): FastifyPluginAsync {
  const accepted = Object.keys(handlers) as CommandType[];
  const failureExtras = o.failureExtras ?? {};
  const access = o.access ?? {};
  // The route lets in whoever may send some type; each type is checked again below.
  const anyRight = [...new Set(Object.values(access).flat())];
  return async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>();
    // A refused envelope is answered here, not by the server's handler: the echo must stay.
    app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
      const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      if (status === 500) req.log.error({ err }, 'command failed');
      return reply.code(status).send(failure(status === 500 ? `internal error: ${withoutPaths(err.message)}` : err.message, echoOf(req.body)));
    });
    app.post('/System/Command', { config: { access: anyRight }, schema: { tags: ['command'], summary: 'A clause-9 command in the PROTOCOL.md envelope; the reply echoes CommandType and CommandIdx', body: CommandEnvelope, response: { 200: CommandReply, '4xx': FailureReply, '5xx': FailureReply } } }, async (req, reply) => {
      const echo = echoOf(req.body);
      const type = req.body.CommandType as CommandType;
      const handler = handlers[type] as ((c: unknown, ctx: CommandContext) => Promise<CommandReplyBody>) | undefined;
      if (!handler) {
        return reply.code(400).send(failure(`CommandType: "${req.body.CommandType}" is not accepted here (accepted: ${accepted.join(', ')})`, echo));
      }
      const principal = principalOf(req);
      if (!allowed(principal, access[type] ?? [])) {
        return reply.code(403).send(failure(`CommandType: a ${principal.kind} may not send "${type}" here`, echo, REPLY_MESSAGE_MAX_BYTES[type]));
      }
      const extras = failureExtras[type] ?? {};
      // Checked before the command runs or its reply is replayed: a deposed leader changes nothing.
      const fenced = o.fence?.(req.headers['x-retinad-epoch']);
      if (fenced) return reply.code(fenced.status).send(failure(fenced.message, { ...echo, ...extras }, REPLY_MESSAGE_MAX_BYTES[type]));
      const full = parse(COMMAND_SCHEMAS[type], req.body);
      if (!full.ok) return reply.code(400).send(failure(full.message, { ...echo, ...extras }, REPLY_MESSAGE_MAX_BYTES[type]));

      const sender = senderOf(req, principal, req.body.DeviceID);
      const key = req.body.CommandIdx === undefined ? null : `${sender}#${type}#${req.body.CommandIdx}`;
      const out = await dedup.run(key, async () => {
        try {
          const r = await handler(full.value, { sender, principal });
          // A handler's refusal can name long lists (installed packages, every failed item); the
          // reply table bounds Message (table 21: 512 bytes), so it is cut here, once for all.
          if (r.Message !== undefined) r.Message = truncateBytes(r.Message, REPLY_MESSAGE_MAX_BYTES[type]);
          return { code: 200, body: { ...extras, ...r, ...echo } };
        } catch (err) {
          req.log.error({ err, CommandType: type }, 'command handler failed');
          return { code: 500, body: failure(`${type} failed: ${withoutPaths((err as Error).message)}`, { ...echo, ...extras }, REPLY_MESSAGE_MAX_BYTES[type]) };
        }
      });
      return reply.code(out.code).send(out.body as Static<typeof CommandReply>);
    });
  };
}
