/**
 * The scheduler's HTTP face: every REST path of PROTOCOL.md plus `POST /System/Command` for
 * task results. Routes only validate and hand over to the Scheduler.
 */
import type { FastifyInstance } from 'fastify';
import os from 'node:os';
import {
  AvailableResource, CommandType, DevTaskStatus, KeepaliveRequest, RegisterRequest, TaskBasicInfo, TaskRequestReply, TotalResource, UnRegisterRequest,
  formatRetinaDateTime, messageMaxBytes, parse, type AlgResource,
} from '../protocol/index.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import type { Logger } from '../log.ts';
import { createBaseServer, badRequest, failure, truncateBytes } from './http-server.ts';
import { DigestVerifier } from '../net/digest.ts';
import { registerCommandRoute } from './command-route.ts';
import { Registry } from 'prom-client';
import { registerMetricsRoute } from './metrics-route.ts';

const PAGE_MAX = 500;

export function createSchedulerServer(s: Scheduler, opts: { token?: string; log: Logger; tls?: { key: Buffer; cert: Buffer }; metricsPublic?: boolean }): FastifyInstance {
  const http = new Registry();
  const app = createBaseServer({
    logger: opts.log,
    token: opts.token,
    tls: opts.tls,
    metrics: http,
    acceptToken: (t) => s.acceptsSessionToken(t),
    publicRoutes: ['GET /System/Time', 'HEAD /System/Time', 'POST /System/Register', ...(opts.metricsPublic ? ['GET /metrics'] : [])],
  });
  registerMetricsRoute(app, [http, s.metrics.registry]);
  const digest = opts.token ? new DigestVerifier('retinad', opts.token) : null;
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

  app.get('/System/Time', async () => {
    const now = Date.now();
    return { StatusCode: '0', SystemTimeObject: { LocalTime: formatRetinaDateTime(now), TimeZone: tz, UnixMs: now } };
  });

  // Register authenticates with Digest (password = node token), GA/T 1400 style. The check runs
  // before the body is parsed: Digest clients (curl --digest, cameras) probe with an empty body
  // and expect the 401 challenge, not a 400 about the body.
  const digestUser = new WeakMap<object, string>();
  app.post('/System/Register', {
    onRequest: async (req, reply) => {
      if (!digest) return;
      const r = digest.check(req.headers.authorization, 'POST', req.url);
      if ('user' in r) { digestUser.set(req, r.user); return; }
      reply.code(401).header('WWW-Authenticate', digest.challenges(r.fail === 'stale'));
      return reply.send(failure('Authorization: Digest authentication required (SHA-256, qop=auth; username = DeviceID, password = node token)'));
    },
  }, async (req, reply) => {
    const p = parse(RegisterRequest, req.body);
    if (!p.ok) return badRequest(reply, p.message);
    // The body is bound to the authenticated identity: a device registers only itself.
    if (digest && digestUser.get(req) !== p.value.RegisterObject.DeviceID) return reply.code(401).send(failure('Authorization: Digest username must equal RegisterObject.DeviceID'));
    return { StatusCode: '0', KeepaliveInterval: s.keepaliveSec, SessionToken: s.register(p.value.RegisterObject), SchedulerID: s.o.deviceId };
  });

  // Liveness counts a keepalive when it arrives: stamped before its body is read or anything
  // queued behind other work, so a busy scheduler does not blame a device for its own backlog.
  const arrivedAt = new WeakMap<object, number>();
  app.post('/System/Keepalive', {
    onRequest: async (req) => { arrivedAt.set(req, s.clock()); },
  }, async (req, reply) => {
    const p = parse(KeepaliveRequest, req.body);
    if (!p.ok) return badRequest(reply, p.message);
    if (!s.keepalive(p.value.KeepaliveObject.DeviceID, arrivedAt.get(req))) return reply.code(404).send(failure(`KeepaliveObject.DeviceID: "${p.value.KeepaliveObject.DeviceID}" is not registered`));
    return { StatusCode: '0' };
  });

  app.post('/System/UnRegister', async (req, reply) => {
    const p = parse(UnRegisterRequest, req.body);
    if (!p.ok) return badRequest(reply, p.message);
    if (!s.unregister(p.value.UnRegisterObject.DeviceID)) return reply.code(404).send(failure(`UnRegisterObject.DeviceID: "${p.value.UnRegisterObject.DeviceID}" is not registered`));
    return { StatusCode: '0' };
  });

  app.patch('/System/ResourceInfo/TotalResource', async (req, reply) => {
    const p = parse(TotalResource, req.body);
    if (!p.ok) return badRequest(reply, p.message);
    if (!s.reportTotal(p.value)) return reply.code(404).send(failure(`DeviceID: "${p.value.DeviceID}" is not registered`));
    return { StatusCode: '0' };
  });

  app.patch('/System/ResourceInfo/AvailableResource', async (req, reply) => {
    const p = parse(AvailableResource, req.body);
    if (!p.ok) return badRequest(reply, p.message);
    if (!s.reportAvailable(p.value)) return reply.code(404).send(failure(`DeviceID: "${p.value.DeviceID}" is not registered`));
    return { StatusCode: '0' };
  });

  // Table 18: this reply's Message holds at most 128 bytes, failures included.
  const taskRequestMax = messageMaxBytes(TaskRequestReply);
  app.post('/System/TaskRequest', { config: { messageMaxBytes: taskRequestMax } }, async (req, reply) => {
    const p = parse(TaskBasicInfo, req.body);
    if (!p.ok) return badRequest(reply, p.message, {}, taskRequestMax);
    const out = await s.submit(p.value);
    // Intake full: refused at once (503 + Retry-After) so keepalives and reports keep flowing.
    if (!out.ok && out.busy) return reply.code(503).header('Retry-After', String(out.busy.retryAfterSec)).send(failure(out.message, {}, taskRequestMax));
    if (!out.ok) return reply.code(422).send(failure(out.message, {}, taskRequestMax));
    return { StatusCode: '0', TaskID: out.taskId, Message: 'accepted', ...(out.notifyKey ? { NotifyKey: out.notifyKey } : {}) };
  });

  // Table 32: the body is a DevTaskStatus object or an array of them.
  app.patch('/System/TaskStatus', async (req, reply) => {
    const items = Array.isArray(req.body) ? (req.body as unknown[]) : [req.body];
    if (items.length === 0) return badRequest(reply, '(body): must hold at least one DevTaskStatus');
    const parsed = [];
    for (let i = 0; i < items.length; i++) {
      const p = parse(DevTaskStatus, items[i]);
      if (!p.ok) return badRequest(reply, Array.isArray(req.body) ? `[${i}].${p.message}` : p.message);
      parsed.push(p.value);
    }
    const unknown = parsed.flatMap((d) => s.onTaskStatus(d));
    if (unknown.length) return reply.code(404).send(failure(`TaskStatusList.TaskID: unknown task(s) ${unknown.slice(0, 5).join(', ')}`));
    return { StatusCode: '0' };
  });

  app.get('/System/TaskInfo/:TaskID', async (req, reply) => {
    const { TaskID } = req.params as { TaskID: string };
    const info = s.taskInfo(TaskID);
    if (!info) return reply.code(404).send(failure(`TaskID: no task "${TaskID.slice(0, 128)}"`));
    return { StatusCode: '0', TaskInfo: info };
  });

  app.get('/System/TaskResult/:TaskID', async (req, reply) => {
    const { TaskID } = req.params as { TaskID: string };
    const q = req.query as Record<string, string | string[] | undefined>;
    const after = typeof q.after === 'string' && q.after !== '' ? q.after : '0';
    const limitRaw = typeof q.limit === 'string' ? q.limit : '100';
    if (!/^\d{1,15}$/.test(after)) return badRequest(reply, 'after: must be a cursor returned as Next (a non-negative integer)');
    if (!/^\d{1,4}$/.test(limitRaw) || Number(limitRaw) < 1 || Number(limitRaw) > PAGE_MAX) return badRequest(reply, `limit: must be an integer 1..${PAGE_MAX}`);
    if (!s.store.task(TaskID)) return reply.code(404).send(failure(`TaskID: no task "${TaskID.slice(0, 128)}"`));
    const limit = Number(limitRaw);
    const rows = s.store.results(TaskID, Number(after), limit);
    const page: Record<string, unknown> = { StatusCode: '0', TaskID, TaskResultList: rows.map((r) => r.body) };
    const last = rows.at(-1);
    if (rows.length === limit && last) page.Next = String(last.seq);
    return page;
  });

  // The algorithm model repository (our addition): publish, list, fetch by AlgFileURL.
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: 512 * 1024 * 1024 }, (_req, body, done) => done(null, body));
  app.post('/System/AlgorithmRepository', { bodyLimit: 512 * 1024 * 1024 }, async (req, reply) => {
    if (!Buffer.isBuffer(req.body)) return badRequest(reply, 'body: send the .rpk bytes as application/octet-stream');
    try {
      const e = s.repository.publish(req.body);
      req.log.info({ AlgID: e.AlgID, AlgVersion: e.AlgVersion, signedBy: e.signedBy }, 'algorithm package published');
      return { StatusCode: '0', ...e, AlgFileURL: s.algFileUrl(e.AlgID, e.AlgVersion) };
    } catch (err) {
      return reply.code(422).send(failure(`package refused: ${(err as Error).message}`));
    }
  });
  app.get('/System/AlgorithmRepository', async () => ({ StatusCode: '0', AlgorithmList: s.repository.list().map((e) => ({ ...e, AlgFileURL: s.algFileUrl(e.AlgID, e.AlgVersion) })) }));
  app.get('/System/AlgorithmRepository/:AlgID/:file', async (req, reply) => {
    const { AlgID, file } = req.params as { AlgID: string; file: string };
    const version = /^(.+)\.rpk$/.exec(file)?.[1];
    const pkg = /^\d{1,10}$/.test(AlgID) && version !== undefined ? s.repository.read(Number(AlgID), version) : undefined;
    if (!pkg) return reply.code(404).send(failure(`no package AlgID ${AlgID.slice(0, 12)} ${file.slice(0, 40)}`));
    return reply.type('application/octet-stream').send(pkg);
  });

  // Our addition (PROTOCOL.md allows adding): what the scheduler knows of its executors.
  app.get('/System/DeviceList', async () => ({
    StatusCode: '0',
    DeviceList: s.store.devices().map((d) => ({
      DeviceID: d.device_id, DeviceType: d.device_type, ProductType: d.product_type, Online: d.online === 1, CommandURL: d.command_url,
      LastSeen: formatRetinaDateTime(d.last_seen),
      AlgInfoList: d.alg_resource ? (JSON.parse(d.alg_resource) as AlgResource).AlgInfoList : [],
      TotalResource: d.total_resource ? JSON.parse(d.total_resource) : null,
      AvailableResource: d.available_resource ? JSON.parse(d.available_resource) : null,
    })),
    Host: os.hostname(),
  }));

  registerCommandRoute(app, {
    [CommandType.TaskResult]: async (cmd, ctx) => {
      const r = s.onTaskResult(cmd, ctx.sender);
      return r.ok ? { StatusCode: '0' } : { StatusCode: '1', Message: r.message };
    },
    // Initiators control and query the tasks they requested (9.7, 9.9).
    [CommandType.TaskOpsControl]: async (cmd) => {
      const problems = await s.control(cmd.MessageBody.OpsControlList);
      return problems.length ? { StatusCode: '1', Message: truncateBytes(problems.join('; '), 512) } : { StatusCode: '0' };
    },
    [CommandType.TaskStatusQuery]: async (cmd) => ({ StatusCode: '0', TaskStatusSet: s.queryStatus(cmd.MessageBody) }),
  }, { task_status_query: { TaskStatusSet: [] } });
  return app;
}
