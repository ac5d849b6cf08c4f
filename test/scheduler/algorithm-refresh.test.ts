/**
 * SR3 without a storm (issue 11 item 3): TaskRequests never query devices; concurrent asks for
 * one device's algorithm list share a single algorithm_res_query; a device whose CommandURL
 * never answers holds only its own query, not the TaskRequest replies.
 */
import t from 'tap';
import http from 'node:http';
import { pino } from 'pino';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { defined } from '../helpers/defined.ts';
import { waitFor } from '../helpers/cluster.ts';

interface Fake { url: string; queries: number; close(): void }

/** An executor offering frame extraction; `hang` leaves every command unanswered. */
async function fakeExecutor(deviceId: string, opts: { hang?: boolean; delayMs?: number } = {}): Promise<Fake> {
  const f: Fake = { url: '', queries: 0, close: () => undefined };
  const srv = http.createServer((req, res) => {
    let s = '';
    req.on('data', (c) => (s += c));
    req.on('end', () => {
      const j = JSON.parse(s || '{}');
      if (j.CommandType === 'algorithm_res_query') f.queries++;
      if (opts.hang) return;
      const reply: Record<string, unknown> = { CommandType: j.CommandType, CommandIdx: j.CommandIdx, StatusCode: '0' };
      if (j.CommandType === 'algorithm_res_query') reply.AlgResourceList = [{ DeviceID: deviceId, AlgInfoList: [{ AlgID: 1001, AlgType: 'frame_extraction', AlgVersion: '1.0.0', AlgStatus: 1 }] }];
      const send = () => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify(reply)); };
      if (opts.delayMs) setTimeout(send, opts.delayMs); else send();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  f.url = `http://127.0.0.1:${(srv.address() as { port: number }).port}/System/Command`;
  f.close = () => { srv.closeAllConnections(); srv.close(); };
  return f;
}

const taskRequest = (name: string) => ({ TaskName: name, TaskType: 1, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: 'file:///x.mp4' }], AlgType: 'frame_extraction' } } });

t.test('SR3: N concurrent TaskRequests cause at most one algorithm_res_query per device', async (t) => {
  const fakes = await Promise.all(['a', 'b', 'c'].map((id) => fakeExecutor(id, { delayMs: 50 })));
  // algRefreshMs 1: every list is stale at once, as the old per-request refresh would have seen it.
  const s = new Scheduler({ deviceId: 'sched', dataDir: t.testdir({}), publicUrl: 'http://127.0.0.1:1', keepaliveSec: 60, algRefreshMs: 1, maxIntake: 1000, log: pino({ level: 'silent' }) });
  t.teardown(async () => { await s.close(); for (const f of fakes) f.close(); });
  ['a', 'b', 'c'].forEach((id, i) => s.register({ DeviceID: id, DeviceType: '1', ProductType: 'fake', CommandURL: defined(fakes[i], `fake ${id}`).url }));
  // Registration started one query each; more asks while they are in flight join them.
  await Promise.all(['a', 'b', 'c'].flatMap((id) => Array.from({ length: 10 }, () => s.refreshAlgorithms(id))));
  t.same(fakes.map((f) => f.queries), [1, 1, 1], '30 concurrent asks: one query per device');
  await new Promise((r) => setTimeout(r, 5)); // the lists are now older than algRefreshMs
  const outs = await Promise.all(Array.from({ length: 40 }, (_, i) => s.submit(taskRequest(`t${i}`))));
  t.ok(outs.every((o) => o.ok), '40 concurrent TaskRequests accepted');
  t.same(fakes.map((f) => f.queries), [1, 1, 1], 'and they queried no device (at most one query per device in all)');
});

t.test('SR3: a device whose CommandURL hangs does not delay TaskRequest replies', async (t) => {
  const good = await fakeExecutor('good');
  const hung = await fakeExecutor('hung', { hang: true });
  const s = new Scheduler({ deviceId: 'sched', dataDir: t.testdir({}), publicUrl: 'http://127.0.0.1:1', keepaliveSec: 60, algRefreshMs: 1, log: pino({ level: 'silent' }) });
  t.teardown(async () => { await s.close(); good.close(); hung.close(); });
  s.register({ DeviceID: 'good', DeviceType: '1', ProductType: 'fake', CommandURL: good.url });
  await s.refreshAlgorithms('good');
  s.register({ DeviceID: 'hung', DeviceType: '1', ProductType: 'fake', CommandURL: hung.url });
  await new Promise((r) => setTimeout(r, 5));
  const outs = await Promise.all(Array.from({ length: 10 }, (_, i) => s.submit(taskRequest(`t${i}`))));
  t.ok(outs.every((o) => o.ok), 'every TaskRequest answered and accepted');
  t.ok(s.algorithms.isInFlight('hung'), 'while the query to the hung device is still unanswered (replies did not wait for it)');
  // The query leaves once registration is committed; on a busy host it may reach the fake a moment after the replies.
  await waitFor('the hung device to receive its query', async () => (hung.queries >= 1 ? true : undefined), 5_000, 10);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(hung.queries, 1, 'and that device was asked once only');
});
