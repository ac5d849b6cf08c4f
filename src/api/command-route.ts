/**
 * `POST /System/Command`: checks the envelope, then the command's own table schema, then runs
 * the role's handler once per (sender, CommandIdx). The reply always echoes CommandType and
 * CommandIdx, also on failure, so a caller can match it.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { COMMAND_SCHEMAS, CommandEnvelope, REPLY_MESSAGE_MAX_BYTES, parse, type CommandContext, type CommandHandlers, type CommandReplyBody, type CommandType } from '../protocol/index.ts';
import { CommandDedup } from './dedup.ts';
import { failure, truncateBytes } from './http-server.ts';

/** Sender identity: the `X-Sender-ID` header our nodes send, else address + envelope DeviceID. */
export function senderOf(req: FastifyRequest, deviceId?: string): string {
  const h = req.headers['x-sender-id'];
  if (typeof h === 'string' && h.length > 0 && h.length <= 200) return h;
  return `${req.ip}|${deviceId ?? ''}`;
}

/** Registers the command route with the given handlers. */
export function registerCommandRoute(app: FastifyInstance, handlers: CommandHandlers, failureExtras: Partial<Record<CommandType, Record<string, unknown>>> = {}): CommandDedup<{ code: number; body: Record<string, unknown> }> {
  const dedup = new CommandDedup<{ code: number; body: Record<string, unknown> }>();
  const accepted = Object.keys(handlers) as CommandType[];

  app.post('/System/Command', async (req, reply) => {
    const body = req.body as unknown;
    const raw = (body && typeof body === 'object' && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
    // Echo what can be echoed even when the envelope is broken.
    const echo: Record<string, unknown> = {};
    if (typeof raw.CommandType === 'string' && raw.CommandType.length < 20) echo.CommandType = raw.CommandType;
    if (Number.isInteger(raw.CommandIdx)) echo.CommandIdx = raw.CommandIdx;

    const env = parse(CommandEnvelope, body);
    if (!env.ok) return reply.code(400).send(failure(env.message, echo));
    const type = env.value.CommandType as CommandType;
    const handler = handlers[type] as ((c: unknown, ctx: CommandContext) => Promise<CommandReplyBody>) | undefined;
    if (!handler) {
      return reply.code(400).send(failure(`CommandType: "${env.value.CommandType}" is not accepted here (accepted: ${accepted.join(', ')})`, echo));
    }
    const extras = failureExtras[type] ?? {};
    const full = parse(COMMAND_SCHEMAS[type], body);
    if (!full.ok) return reply.code(400).send(failure(full.message, { ...echo, ...extras }, REPLY_MESSAGE_MAX_BYTES[type]));

    const sender = senderOf(req, env.value.DeviceID);
    const key = env.value.CommandIdx === undefined ? null : `${sender}#${type}#${env.value.CommandIdx}`;
    const out = await dedup.run(key, async () => {
      try {
        const r = await handler(full.value, { sender });
        // A handler's refusal can name long lists (installed packages, every failed item); the
        // reply table bounds Message (table 21: 512 bytes), so it is cut here, once for all.
        if (r.Message !== undefined) r.Message = truncateBytes(r.Message, REPLY_MESSAGE_MAX_BYTES[type]);
        return { code: 200, body: { ...extras, ...r, ...echo } };
      } catch (err) {
        req.log.error({ err, CommandType: type }, 'command handler failed');
        return { code: 500, body: failure(`${type} failed: ${(err as Error).message}`, { ...echo, ...extras }, REPLY_MESSAGE_MAX_BYTES[type]) };
      }
    });
    return reply.code(out.code).send(out.body);
  });
  return dedup;
}
