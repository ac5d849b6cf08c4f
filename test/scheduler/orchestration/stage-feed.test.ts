/**
 * M6, B6, B.2: results the scheduler relays to a stage reach it whole and in order though the
 * stage's node fails for a moment. Real HTTP (a node that answers 503, drops the connection, then
 * takes the result), a real SQLite store holding the stage's row: a failed relay is tried again
 * under the same CommandIdx, later results wait behind it, a refusal is final, a stage that ended
 * is fed nothing more, and a node that never comes back is given up after the bound.
 */
import t from 'tap';
import http from 'node:http';
import path from 'node:path';
import { pino } from 'pino';
import { StageFeed } from '../../../src/scheduler/orchestration/stage-feed.ts';
import { SchedulerStore, type DeviceRow } from '../../../src/scheduler/store.ts';
import { RetinaClient } from '../../../src/net/client.ts';
import type { CustomInfo, TaskBasicInfo, TaskDispatchInfo, TaskResultBody } from '../../../src/protocol/index.ts';

interface Seen { idx: number; ts: number }

/** A stage's node: `script` says, per request in order, how to answer ('ok', '503', 'drop', 'refuse'); then 'ok'. */
async function node(script: string[]): Promise<{ url: string; seen: Seen[]; close(): void }> {
  const seen: Seen[] = [];
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); }).on('end', () => {
      const cmd = JSON.parse(body) as { CommandIdx: number; MessageBody: { Ts: number } };
      seen.push({ idx: cmd.CommandIdx, ts: cmd.MessageBody.Ts });
      const how = script.shift() ?? 'ok';
      if (how === 'drop') { req.socket.destroy(); return; }
      if (how === '503') { res.writeHead(503).end(); return; }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ CommandType: 'task_result', CommandIdx: cmd.CommandIdx, StatusCode: how === 'refuse' ? '1' : '0', ...(how === 'refuse' ? { Message: 'not my task' } : {}) }));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const a = srv.address() as { port: number };
  return { url: `http://127.0.0.1:${a.port}`, seen, close: () => { srv.closeAllConnections(); srv.close(); } };
}

t.test('M6, B6, B.2: relayed results survive a failing node, in order, once each', async (t) => {
  const dir = t.testdir({});
  const store = new SchedulerStore(path.join(dir, 's'));
  const client = new RetinaClient({ senderId: 'sched' });
  t.teardown(async () => { store.close(); await client.close(); });
  store.insertTask('t', { TaskName: 't' } as unknown as TaskBasicInfo, { AlgID: 1 } as unknown as CustomInfo, 1);
  const urls = new Map<string, string>();
  const devices = { row: (id: string) => (urls.has(id) ? { device_id: id, command_url: urls.get(id) } as unknown as DeviceRow : undefined) };
  const warnings: string[] = [];
  const log = pino({ level: 'warn' }, { write: (l: string) => { warnings.push(l); } });
  let closed = false;
  const feed = new StageFeed({ store, devices, client, log, closed: () => closed, backoffMs: 20, retryForMs: 2000 });
  const result = (sub: string, ts: number) => ({ TaskID: sub, DeviceID: 'up', DstDeviceList: [], AlgID: 1, AlgVersion: '1', Ts: ts, TaskResultData: {} }) as unknown as TaskResultBody;
  const stage = (id: string, device: string, url: string) => {
    urls.set(device, url);
    store.insertSubtask({ subtaskId: id, taskId: 't', deviceId: device, dispatch: {} as TaskDispatchInfo, status: 1 });
  };

  // The node fails twice (503, then a dropped connection) and then takes everything.
  const n1 = await node(['503', 'drop']);
  t.teardown(() => n1.close());
  stage('s1', 'edge-1', n1.url);
  for (const ts of [1, 2, 3]) feed.send('s1', result('up.1', ts));
  await feed.drained('s1');
  t.same(n1.seen.map((x) => x.ts), [1, 1, 1, 2, 3], 'the first result tried three times; the others waited behind it, in order');
  t.equal(new Set(n1.seen.slice(0, 3).map((x) => x.idx)).size, 1, 'one CommandIdx for every attempt of one result (the receiver counts a repeat once)');
  t.equal(new Set(n1.seen.map((x) => x.idx)).size, 3, 'each result its own CommandIdx');

  // A refusal is the stage's answer: not tried again; the next result goes on.
  const n2 = await node(['refuse']);
  t.teardown(() => n2.close());
  stage('s2', 'edge-2', n2.url);
  feed.send('s2', result('up.2', 10));
  feed.send('s2', result('up.2', 11));
  await feed.drained('s2');
  t.same(n2.seen.map((x) => x.ts), [10, 11], 'a refused result is not sent again');
  t.match(warnings.join(''), /a stage refused a result relayed to it/);

  // A stage that ended is fed nothing more, even mid-retry.
  const n3 = await node(['503', '503', '503', '503', '503', '503']);
  t.teardown(() => n3.close());
  stage('s3', 'edge-3', n3.url);
  feed.send('s3', result('up.3', 20));
  await new Promise((r) => setTimeout(r, 50));
  store.setSubtaskStatus('s3', { status: 0 });
  feed.send('s3', result('up.3', 21));
  await feed.drained('s3');
  t.ok(n3.seen.every((x) => x.ts === 20) && n3.seen.length < 6, `the ended stage got ${n3.seen.length} attempt(s) of the first result and none of the second`);

  // A node that never answers is given up after the bound, and the feed goes on.
  stage('s4', 'edge-4', 'http://127.0.0.1:1');
  const started = Date.now();
  feed.send('s4', result('up.4', 30));
  await feed.drained('s4');
  t.ok(Date.now() - started >= 2000, 'retried up to retryForMs');
  t.match(warnings.join(''), /could not relay a result to a stage it feeds; giving up/);

  // Closing: nothing more is retried.
  closed = true;
  const n5 = await node(['503']);
  t.teardown(() => n5.close());
  stage('s5', 'edge-5', n5.url);
  feed.send('s5', result('up.5', 40));
  await feed.drained('s5');
  t.equal(n5.seen.length, 1, 'a closing scheduler tries once');
});
