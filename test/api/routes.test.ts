/**
 * Issue 9 (routes schema-first) and issue 10 item 5 (failed replies are not de-duplicated):
 * every route of both roles declares the schemas of what it takes and answers; a refusal by a
 * schema names the field and the rule; a reply that drifts from its declared schema is caught;
 * a failed command reply is never replayed to a retry.
 */
import t from 'tap';
import { pino } from 'pino';
import type { FastifyInstance, InjectOptions, RouteOptions } from 'fastify';
import { createSchedulerServer } from '../../src/api/scheduler-server.ts';
import { createExecutorServer } from '../../src/api/executor-server.ts';
import { createBaseServer } from '../../src/api/http-server.ts';
import { commandRoutes } from '../../src/api/routes/command.ts';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { Executor } from '../../src/runtime/executor.ts';
import * as P from '../../src/protocol/index.ts';
import { TEST_EXECUTOR_OPTIONS } from '../helpers/nodes.ts';

const log = pino({ level: 'silent' });

/** The routes `app` ends up with (collected as its plugins load). */
async function routesOf(app: FastifyInstance): Promise<RouteOptions[]> {
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (r) => { routes.push(r); });
  await app.ready();
  return routes.filter((r) => r.method !== 'HEAD');
}

/** What every route must declare: a reply schema; a body schema where it takes JSON; params where its path has them. */
function undeclared(routes: RouteOptions[]): string[] {
  const out: string[] = [];
  for (const r of routes) {
    const name = `${String(r.method)} ${r.url}`;
    // Prometheus' text format, the API's own description and its page, the console page: not protocol routes.
    if (r.url === '/metrics' || r.url === '/openapi.json' || r.url === '/console' || r.url.startsWith('/docs')) continue;
    const s = r.schema ?? {};
    if (!s.response) out.push(`${name}: no reply schema`);
    if ((r.method === 'POST' || r.method === 'PATCH') && !s.body && r.url !== '/System/AlgorithmRepository') out.push(`${name}: no body schema`);
    if (r.url.includes(':') && !s.params) out.push(`${name}: no params schema`);
  }
  return out;
}

t.test('every scheduler and executor route declares its body, params and reply schemas', async (t) => {
  const s = new Scheduler({ deviceId: 'sched', dataDir: t.testdir({}), publicUrl: 'http://127.0.0.1:1', keepaliveSec: 1, log });
  const sApp = createSchedulerServer(s, { log });
  const e = new Executor({ ...TEST_EXECUTOR_OPTIONS, deviceId: 'exec', dataDir: t.testdir({}), commandUrl: 'http://unused', log });
  const eApp = createExecutorServer(e, { log });
  t.teardown(async () => { await sApp.close(); await eApp.close(); await s.close(); await e.close(); });
  const sRoutes = await routesOf(sApp);
  const eRoutes = await routesOf(eApp);
  t.ok(sRoutes.length >= 14, `the scheduler has its ${sRoutes.length} routes`);
  t.strictSame(undeclared(sRoutes), [], 'scheduler: nothing undeclared');
  t.strictSame(undeclared(eRoutes), [], 'executor: nothing undeclared');
  t.ok(eRoutes.some((r) => r.url === '/System/Time') && sRoutes.some((r) => r.url === '/System/Time'), 'both roles serve /System/Time from the one plugin');
});

t.test('a refusal by a route schema names the field and the rule (body, params, query)', async (t) => {
  const s = new Scheduler({ deviceId: 'sched', dataDir: t.testdir({}), publicUrl: 'http://127.0.0.1:1', keepaliveSec: 1, log });
  const app = createSchedulerServer(s, { log });
  t.teardown(async () => { await app.close(); await s.close(); });
  const cases: Array<[string, InjectOptions, RegExp]> = [
    ['Keepalive without its object', { method: 'POST', url: '/System/Keepalive', payload: {} }, /^KeepaliveObject: is required$/],
    ['a DeviceID over 20 bytes', { method: 'POST', url: '/System/Keepalive', payload: { KeepaliveObject: { DeviceID: 'd'.repeat(21) } } }, /^KeepaliveObject\.DeviceID: must be at most 20 UTF-8 bytes/],
    ['an empty TaskStatus list', { method: 'PATCH', url: '/System/TaskStatus', payload: [] }, /^\(body\): must hold at least one DevTaskStatus$/],
    ['the second of two reports broken', { method: 'PATCH', url: '/System/TaskStatus', payload: [{ DeviceID: 'a' }, { DeviceID: 7 }] }, /^\[1\]\.DeviceID: must be of type string$/],
    ['a TaskID over 128 bytes', { method: 'GET', url: `/System/TaskInfo/${'任'.repeat(43)}` }, /^TaskID: must be at most 128 UTF-8 bytes/],
    ['a page of 501', { method: 'GET', url: '/System/TaskResult/x?limit=501' }, /^limit: must be an integer 1\.\.500$/],
    ['a cursor that is not one', { method: 'GET', url: '/System/TaskResult/x?after=-1' }, /^after: must be a cursor returned as Next/],
    ['an AlgID that is not a number', { method: 'GET', url: '/System/AlgorithmRepository/abc/1.0.rpk' }, /^AlgID: must be a decimal AlgID$/],
  ];
  const longest = await app.inject({ method: 'GET', url: `/System/TaskInfo/${encodeURIComponent('任'.repeat(42) + 'k')}` });
  t.match(longest.json(), { Message: /^TaskID: no task/ }, 'a TaskID of 128 UTF-8 bytes (percent-encoded: 379 characters) reaches the route');
  for (const [what, req, message] of cases) {
    const r = await app.inject(req);
    t.equal(r.statusCode, 400, `${what}: 400`);
    const body = r.json() as { StatusCode: string; Message: string };
    t.equal(body.StatusCode, '1', `${what}: StatusCode 1`);
    t.match(body.Message, message, `${what}: ${body.Message}`);
  }
});

t.test('with RETINAD_CHECK_REPLIES=1 a reply that breaks its declared schema fails loudly (500), not silently', async (t) => {
  t.equal(process.env.RETINAD_CHECK_REPLIES, '1', 'the test runner checks every reply');
  const app = createBaseServer({ logger: log });
  app.get('/drift', { schema: { response: { 200: P.SystemTimeReply } } }, async () => ({ StatusCode: '0', SystemTimeObject: { LocalTime: 'yesterday', TimeZone: 'UTC', UnixMs: 1 } }));
  app.get('/kept', { schema: { response: { 200: P.FailureReply } } }, async () => ({ StatusCode: '0' }));
  t.teardown(() => app.close());
  const bad = await app.inject({ method: 'GET', url: '/drift' });
  t.equal(bad.statusCode, 500, 'the drifting reply is not sent');
  t.match((bad.json() as { Message: string }).Message, /breaks its declared schema: SystemTimeObject\.LocalTime: must be a datetime/);
  t.equal((await app.inject({ method: 'GET', url: '/kept' })).statusCode, 200, 'a reply that keeps its schema goes out');
});

t.test('issue 10: a failed command reply is not replayed for the same (sender, CommandIdx); a success is, and runs once', async (t) => {
  let runs = 0;
  let fail = true;
  const app = createBaseServer({ logger: log });
  await app.register(commandRoutes({
    [P.CommandType.TaskStatusQuery]: async () => { runs++; if (fail) return { StatusCode: '1', Message: 'not yet' }; return { StatusCode: '0', TaskStatusSet: [] }; },
  }, { failureExtras: { task_status_query: { TaskStatusSet: [] } } }));
  t.teardown(() => app.close());
  const send = () => app.inject({ method: 'POST', url: '/System/Command', headers: { 'x-sender-id': 'peer-1' },
    payload: { CommandType: 'task_status_query', CommandIdx: 9, DeviceID: 'sched', MessageBody: { DeviceList: [] } } });
  t.equal((((await send()).json()) as { StatusCode: string }).StatusCode, '1', 'first try refused');
  fail = false;
  t.equal((((await send()).json()) as { StatusCode: string }).StatusCode, '0', 'the retry ran again and succeeded');
  fail = true;
  const third = (await send()).json() as { StatusCode: string; CommandIdx: number };
  t.equal(third.StatusCode, '0', 'a repeat after a success gets the success again');
  t.equal(third.CommandIdx, 9, 'echoing the CommandIdx');
  t.equal(runs, 2, 'the handler ran for the failure and the success only');
});

t.test('issue 10: an internal error does not reveal the node\'s paths', async (t) => {
  const app = createBaseServer({ logger: log });
  await app.register(commandRoutes({ [P.CommandType.TaskStatusQuery]: async () => { throw new Error("ENOENT: no such file or directory, open '/var/lib/retinad/plugins/9001/1.0.0/manifest.json'"); } }));
  app.get('/boom', async () => { throw new Error('cannot open /srv/retinad/data/executor.db (see http://example.net/help/x)'); });
  t.teardown(() => app.close());
  const c = await app.inject({ method: 'POST', url: '/System/Command', payload: { CommandType: 'task_status_query', CommandIdx: 1, MessageBody: {} } });
  t.equal(c.statusCode, 500);
  t.match(c.json(), { Message: "task_status_query failed: ENOENT: no such file or directory, open '…/manifest.json'" });
  const b = (await app.inject({ method: 'GET', url: '/boom' })).json() as { Message: string };
  t.equal(b.Message, 'internal error: cannot open …/executor.db (see http://example.net/help/x)', 'paths cut to their last part, URLs kept');
});

t.test('a refused command envelope still echoes CommandType and CommandIdx', async (t) => {
  const app = createBaseServer({ logger: log });
  await app.register(commandRoutes({ [P.CommandType.TaskStatusQuery]: async () => ({ StatusCode: '0', TaskStatusSet: [] }) }));
  t.teardown(() => app.close());
  const r = await app.inject({ method: 'POST', url: '/System/Command', payload: { CommandType: 'task_status_query', CommandIdx: 3, MessageBody: 'nope' } });
  t.equal(r.statusCode, 400);
  t.match(r.json(), { StatusCode: '1', CommandType: 'task_status_query', CommandIdx: 3, Message: /^MessageBody: must be of type object/ });
});
