/**
 * Overload is refused, never spread (issue 11 item 3): a bounded TaskRequest intake answers 503
 * with StatusCode "1", a table-18 Message (≤ 128 bytes) and Retry-After once full, while
 * keepalives still succeed; and liveness counts a keepalive when it arrives, not when its
 * handler gets to run (an injected clock, moved by a hook between the two).
 */
import t from 'tap';
import http from 'node:http';
import { pino } from 'pino';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { createSchedulerServer } from '../../src/api/scheduler-server.ts';

/** An executor that answers algorithm queries but never answers a task_dispatch (the placement hangs). */
async function hangingExecutor(deviceId: string): Promise<{ url: string; close(): void }> {
  const srv = http.createServer((req, res) => {
    let s = '';
    req.on('data', (c) => (s += c));
    req.on('end', () => {
      const j = JSON.parse(s || '{}');
      if (j.CommandType === 'task_dispatch') return; // never answered
      const reply: Record<string, unknown> = { CommandType: j.CommandType, CommandIdx: j.CommandIdx, StatusCode: '0' };
      if (j.CommandType === 'algorithm_res_query') reply.AlgResourceList = [{ DeviceID: deviceId, AlgInfoList: [{ AlgID: 1001, AlgType: 'frame_extraction', AlgVersion: '1.0.0', AlgStatus: 1 }] }];
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(reply));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(srv.address() as { port: number }).port}/System/Command`, close: () => { srv.closeAllConnections(); srv.close(); } };
}

const taskRequest = (name: string) => ({ TaskName: name, TaskType: 1, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: 'file:///x.mp4' }], AlgType: 'frame_extraction' } } });

t.test('a full intake answers 503 + Retry-After with a ≤128-byte busy Message; a keepalive still succeeds', async (t) => {
  const ex = await hangingExecutor('edge-a');
  const s = new Scheduler({ deviceId: 'sched', dataDir: t.testdir({}), publicUrl: 'http://127.0.0.1:1', keepaliveSec: 60, maxIntake: 2, log: pino({ level: 'silent' }) });
  const app = createSchedulerServer(s, { log: pino({ level: 'silent' }) });
  t.teardown(async () => { ex.close(); await app.close(); await s.close(); });
  s.register({ DeviceID: 'edge-a', DeviceType: '1', ProductType: 'fake', CommandURL: ex.url });
  await s.refreshAlgorithms('edge-a');
  for (let i = 0; i < 2; i++) {
    const r = await app.inject({ method: 'POST', url: '/System/TaskRequest/', payload: taskRequest(`t${i}`) });
    t.equal(r.statusCode, 200, `request ${i + 1} of 2 accepted (its dispatch hangs, so it keeps its slot)`);
  }
  t.equal(s.intake.size, 2, 'both slots held');
  const busy = await app.inject({ method: 'POST', url: '/System/TaskRequest/', payload: taskRequest('t2') });
  t.equal(busy.statusCode, 503, 'past the bound: 503');
  t.ok(Number(busy.headers['retry-after']) >= 1, 'with Retry-After');
  const body = busy.json() as { StatusCode: string; Message: string };
  t.equal(body.StatusCode, '1');
  t.match(body.Message, /busy/, 'the Message says the scheduler is busy');
  t.ok(Buffer.byteLength(body.Message) <= 128, 'within table 18 (128 bytes)');
  const ka = await app.inject({ method: 'POST', url: '/System/Keepalive', payload: { KeepaliveObject: { DeviceID: 'edge-a' } } });
  t.equal(ka.statusCode, 200, 'a keepalive is served while intake is full');
  t.equal(s.intake.size, 2, 'a refused request takes no slot');
});

t.test('EM1: a keepalive counts from when it arrived, not from when its handler ran (injected clock)', async (t) => {
  const T0 = Date.UTC(2026, 0, 1);
  let now = T0;
  const s = new Scheduler({ deviceId: 'sched', dataDir: t.testdir({}), publicUrl: 'http://127.0.0.1:1', keepaliveSec: 1, now: () => now, log: pino({ level: 'silent' }) });
  const app = createSchedulerServer(s, { log: pino({ level: 'silent' }) });
  // Work queued between arrival and handling: the clock moves 1 s before the handler runs.
  app.addHook('preHandler', async (req) => { if (req.url.startsWith('/System/Keepalive')) now += 1000; });
  t.teardown(async () => { await app.close(); await s.close(); });
  s.register({ DeviceID: 'edge-1', DeviceType: '1', ProductType: 'p' });
  const arrived = T0 + 2000;
  now = arrived;
  const r = await app.inject({ method: 'POST', url: '/System/Keepalive', payload: { KeepaliveObject: { DeviceID: 'edge-1' } } });
  t.equal(r.statusCode, 200);
  t.equal(now, arrived + 1000, 'the handler ran 1 s after the request arrived');
  t.equal(s.devices.row('edge-1')?.last_seen, arrived, 'last seen is the arrival time, not the handling time');
  /** One liveness check at `at`, as a punctual monitor runs it (no stall). */
  const checkAt = (at: number) => {
    now = at;
    s.liveness.startChecks(at - 500);
    (s as unknown as { checkLiveness(): void }).checkLiveness();
  };
  checkAt(arrived + 3000);
  t.equal(s.store.device('edge-1')?.online, 1, 'online three intervals after arrival');
  checkAt(arrived + 3500);
  t.equal(s.store.device('edge-1')?.online, 0, 'offline past three intervals counted from arrival (from handling it would still be online)');
  // A keepalive that arrived earlier but is handled later never moves the stamp backwards.
  s.keepalive('edge-1', arrived + 4000);
  s.keepalive('edge-1', arrived + 3900);
  t.equal(s.devices.row('edge-1')?.last_seen, arrived + 4000, 'stamps only move forward');
  s.keepalive('edge-1', arrived + 4500);
  t.equal(s.store.device('edge-1')?.last_seen, arrived + 4000, 'an online device\'s stamp waits in memory');
  s.devices.flush();
  t.equal(s.store.device('edge-1')?.last_seen, arrived + 4500, 'and reaches the store in the next flush');
  t.equal(s.store.device('edge-1')?.online, 1, 'and the device is back online');
});
