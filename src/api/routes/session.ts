/**
 * The session paths (PROTOCOL.md, GA/T 1400 style): Register with Digest, Keepalive, UnRegister.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { FailureReply, KeepaliveRequest, RegisterReply, RegisterRequest, UnRegisterRequest } from '../../protocol/index.ts';
import { DigestVerifier } from '../../net/digest.ts';
import { OK, actsAs, failure } from '../http-server.ts';

/** What the session routes need of the scheduler. */
export interface SessionApi {
  /** Registers or re-registers a device: its keepalive interval, session token and the scheduler's ID. */
  register(r: RegisterRequest['RegisterObject']): { KeepaliveInterval: number; SessionToken: string; SchedulerID: string };
  /** A keepalive from `deviceId` that arrived at `arrivedAt`; false when it is not registered. */
  keepalive(deviceId: string, arrivedAt: number): boolean;
  /** False when `deviceId` is not registered. */
  unregister(deviceId: string): boolean;
  /** The scheduler's clock (keepalives are stamped with it on arrival). */
  now(): number;
}

/** Register, Keepalive, UnRegister; Register checks Digest (password = node token) when a token is set. */
export function sessionRoutes(api: SessionApi, token: string | undefined): FastifyPluginAsync {
  return async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>();
    const digest = token ? new DigestVerifier('retinad', token) : null;
    // The Digest check runs before the body is parsed: Digest clients (curl --digest, cameras)
    // probe with an empty body and expect the 401 challenge, not a 400 about the body.
    const digestUser = new WeakMap<object, string>();
    app.post('/System/Register', {
      config: { access: 'public' },
      schema: { tags: ['session'], summary: 'Register an executor (Digest, SHA-256): returns KeepaliveInterval and a SessionToken', body: RegisterRequest, response: { 200: RegisterReply, '4xx': FailureReply } },
      onRequest: async (req, reply) => {
        if (!digest) return;
        const r = digest.check(req.headers.authorization, 'POST', req.url);
        if ('user' in r) { digestUser.set(req, r.user); return; }
        reply.code(401).header('WWW-Authenticate', digest.challenges(r.fail === 'stale'));
        return reply.send(failure('Authorization: Digest authentication required (SHA-256, qop=auth; username = DeviceID, password = node token)'));
      },
    }, async (req, reply) => {
      const body = req.body;
      // The body is bound to the authenticated identity: a device registers only itself.
      if (digest && digestUser.get(req) !== body.RegisterObject.DeviceID) return reply.code(401).send(failure('Authorization: Digest username must equal RegisterObject.DeviceID'));
      return { StatusCode: '0' as const, ...api.register(body.RegisterObject) };
    });

    // Liveness counts a keepalive when it arrives: stamped before its body is read or anything
    // queued behind other work, so a busy scheduler does not blame a device for its own backlog.
    const arrivedAt = new WeakMap<object, number>();
    app.post('/System/Keepalive', {
      config: { access: ['device'] },
      schema: { tags: ['session'], summary: 'Keepalive of a registered executor', body: KeepaliveRequest, response: { 200: FailureReply, '4xx': FailureReply } },
      onRequest: async (req) => { arrivedAt.set(req, api.now()); },
    }, async (req, reply) => {
      const id = req.body.KeepaliveObject.DeviceID;
      actsAs(req, id, 'KeepaliveObject.DeviceID');
      if (!api.keepalive(id, arrivedAt.get(req) ?? api.now())) return reply.code(404).send(failure(`KeepaliveObject.DeviceID: "${id}" is not registered`));
      return OK;
    });

    app.post('/System/UnRegister', { config: { access: ['device'] }, schema: { tags: ['session'], summary: 'Unregister an executor; its subtasks move elsewhere', body: UnRegisterRequest, response: { 200: FailureReply, '4xx': FailureReply } } }, async (req, reply) => {
      const id = req.body.UnRegisterObject.DeviceID;
      actsAs(req, id, 'UnRegisterObject.DeviceID');
      if (!api.unregister(id)) return reply.code(404).send(failure(`UnRegisterObject.DeviceID: "${id}" is not registered`));
      return OK;
    });
  };
}
