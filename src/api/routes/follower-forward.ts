/**
 * B3: a follower replica accepts writes by passing them to the leader (the way Nomad's and
 * Consul's followers forward writes): the request goes on as it came — method, path, body and
 * credentials (the leader issued the session tokens and Digest nonces they carry, so it judges
 * them) — and the leader's answer comes back as it was given. Only the leader writes the store.
 * The leader's URL is the one it proclaimed in the etcd election, so credentials go only to a
 * replica of this scheduler. With no leader, or one that does not answer, 503 names the state.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Agent, request } from 'undici';
import { readCapped } from '../../net/client.ts';
import { failure } from '../http-server.ts';

/** Request headers passed on: what the leader needs to judge and parse the request. */
const PASS_IN = ['authorization', 'content-type', 'content-length', 'accept', 'x-sender-id'];
/** Reply headers passed back: what the client needs to read the answer or answer a challenge. */
const PASS_OUT = ['content-type', 'www-authenticate', 'retry-after', 'x-retinad-epoch', 'x-retinad-leader'];
/** A reply larger than this is not relayed (the standard's replies are a few KiB). */
const MAX_REPLY_BYTES = 16 << 20;

/** A refusal in the standard's envelope; 128 bytes suit every route (table 18's limit). */
const refusal = (message: string) => failure(message, {}, 128);

export interface Forwarder {
  (req: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  close(): Promise<void>;
}

export function forwardToLeader(leader: () => string | undefined, timeoutMs = 15_000): Forwarder {
  const agent = new Agent({ keepAliveTimeout: 10_000, connections: 64 });
  const forward = async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const to = leader();
    if (!to) return reply.code(503).header('retry-after', '1').send(refusal('no leader: an election is under way'));
    const headers: Record<string, string> = {};
    for (const h of PASS_IN) { const v = req.headers[h]; if (typeof v === 'string') headers[h] = v; }
    try {
      const res = await request(new URL(req.url, to).toString(), {
        method: req.method as 'POST', headers, body: req.raw, dispatcher: agent, headersTimeout: timeoutMs, bodyTimeout: timeoutMs,
      });
      const body = await readCapped(res.body, MAX_REPLY_BYTES);
      for (const h of PASS_OUT) { const v = res.headers[h]; if (typeof v === 'string') void reply.header(h, v); }
      return reply.code(res.statusCode).header('x-retinad-forwarded-to', to).send(body);
    } catch (err) {
      // The leader died or is cut off: the client tries again (an executor moves to another replica).
      return reply.code(503).header('retry-after', '1').header('x-retinad-leader', to)
        .send(refusal(`the leader ${to} did not answer: ${(err as Error).message}`));
    }
  };
  return Object.assign(forward, { close: () => agent.close() });
}
