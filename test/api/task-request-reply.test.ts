/**
 * Table 18: the TaskRequest reply's Message holds at most 128 bytes — also when the request is
 * refused (schema error, scheduler refusal, malformed JSON), where other routes allow 512.
 */
import { Registry } from 'prom-client';
import t from 'tap';
import { pino } from 'pino';
import { createSchedulerServer } from '../../src/api/scheduler-server.ts';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import * as P from '../../src/protocol/index.ts';

t.test('table 18: every TaskRequest reply keeps Message within 128 bytes', async (t) => {
  // Only submit() is reached by these requests; the long refusal stands for any the scheduler gives.
  const stub = { metrics: { registry: new Registry() }, store: { durable: async () => undefined }, cascade: { handlers: () => ({}), submit: (_b: unknown, _o: unknown, local: () => unknown) => local() }, client: { senderId: 'stub', setCommandChannel: () => undefined }, submit: async () => ({ ok: false, message: `InitiationInfo.CustomInfo: ${'数据源不可用'.repeat(60)}` }) } as unknown as Scheduler;
  const app = createSchedulerServer(stub, { log: pino({ level: 'silent' }) });
  t.teardown(() => app.close());
  const post = (payload: string) => app.inject({ method: 'POST', url: '/System/TaskRequest/', headers: { 'content-type': 'application/json' }, payload });

  const cases: Array<[string, string, number]> = [
    ['refused by the scheduler', JSON.stringify({ TaskName: 'x', InitiationInfo: { DeviceID: 'cam-1' } }), 422],
    ['invalid against table 17', JSON.stringify({ TaskName: '名'.repeat(200), Desc: '述'.repeat(400), InitiationInfo: { DeviceID: 'd'.repeat(40), Applicant: '人'.repeat(100) } }), 400],
    ['malformed JSON', `{"TaskName": "${'坏'.repeat(300)}`, 400],
  ];
  for (const [what, payload, status] of cases) {
    const r = await post(payload);
    const body = r.json() as P.TaskRequestReply;
    t.equal(r.statusCode, status, `${what}: HTTP ${status}`);
    t.equal(body.StatusCode, '1', `${what}: StatusCode 1`);
    t.ok(P.utf8Bytes(body.Message ?? '') <= 128, `${what}: Message is ${P.utf8Bytes(body.Message ?? '')} bytes`);
    const p = P.parse(P.TaskRequestReply, body);
    t.ok(p.ok, `${what}: the reply validates as table 18${p.ok ? '' : `: ${p.message}`}`);
  }
});

t.test('table 17: a request without CustomInfo is valid, and refused as not executable (422), saying why', async (t) => {
  const s = new Scheduler({ deviceId: 'sched', dataDir: t.testdir({}), publicUrl: 'http://127.0.0.1:1', keepaliveSec: 1, log: pino({ level: 'silent' }) });
  const app = createSchedulerServer(s, { log: pino({ level: 'silent' }) });
  t.teardown(async () => { await app.close(); await s.close(); });
  const body = { TaskName: '', InitiationInfo: { DeviceID: 'cam-1' } };
  t.ok(P.parse(P.TaskBasicInfo, body).ok, 'CustomInfo is optional in table 17 (and TaskName may be empty)');
  const r = await app.inject({ method: 'POST', url: '/System/TaskRequest/', payload: body });
  t.equal(r.statusCode, 422, 'not a malformed request: a task this scheduler cannot run');
  const reply = r.json() as P.TaskRequestReply;
  t.ok(P.parse(P.TaskRequestReply, reply).ok, 'a table 18 reply');
  t.match(reply.Message, /^InitiationInfo\.CustomInfo: needed here to name the data source \(Inputs\) and the algorithm/);
});
