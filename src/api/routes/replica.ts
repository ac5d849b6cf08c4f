/**
 * B3, SB9: what a scheduler replica adds to every route. A reply acknowledges the writes made
 * for it, so it waits until they are durable in the shared store (one group commit serves every
 * request in flight); replies carry the leader's epoch (X-Retinad-Epoch) so executors learn it
 * and refuse a deposed leader's commands; a follower serves reads from its copy of the store and
 * passes every write to the leader (follower-forward.ts) — only the leader writes. A single
 * scheduler's replies wait for its SQLite group commit the same way (`durableReplies`).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { forwardToLeader, type Forwarder } from './follower-forward.ts';
import { failure } from '../http-server.ts';

export interface ReplicaRole {
  /** Resolves once every write made so far is durable; rejects when this replica may no longer write. */
  durable(): Promise<void>;
  /** The epoch of the term this replica leads, when it leads. */
  epoch?: string;
  /** Set on a follower: the leader's URL, when one is known. */
  follower?: { leader(): string | undefined };
}

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** A refusal in the standard's envelope (Message ≤ 128 bytes, table 18's limit, fits every route). */
const refusal = (message: string) => failure(message, {}, 128);

/**
 * A follower's gate, run before authentication: a write is passed to the leader whoever sent it
 * (a session token is the leader's to judge; judged here it would be a 401, which does not tell
 * an executor to move on); reads go on to this replica's own routes.
 */
export function followerGate(follower: NonNullable<ReplicaRole['follower']>): Forwarder {
  const forward = forwardToLeader(() => follower.leader());
  const gate = async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => (READS.has(req.method) ? undefined : forward(req, reply));
  return Object.assign(gate, { close: () => forward.close() });
}

export function replicaHooks(app: FastifyInstance, role: ReplicaRole): void {
  app.addHook('onSend', async (_req, reply, payload) => {
    if (role.epoch) void reply.header('x-retinad-epoch', role.epoch);
    return payload;
  });
  durableReplies(app, role.durable, 'this replica is no longer the leader: retry at another');
}

/**
 * A reply acknowledges the writes made for it: it leaves once they are durable (the store
 * commits writes in groups, one commit for every request in flight). When they cannot be
 * kept, the reply says so (503 + Retry-After) instead of acknowledging them.
 */
export function durableReplies(app: FastifyInstance, durable: () => Promise<void>, why = 'the scheduler could not store this request\'s writes: retry'): void {
  app.addHook('onSend', async (_req, reply, payload) => {
    try {
      await durable();
    } catch {
      // The writes behind this reply may not be kept: it must not acknowledge them.
      void reply.code(503).header('retry-after', '1').header('content-type', 'application/json; charset=utf-8');
      return JSON.stringify(refusal(why));
    }
    return payload;
  });
}
