/**
 * B4: time synchronisation between scheduler and executor. An executor registers with a scheduler
 * whose clock is an hour ahead of this machine's; it synchronises (GET /System/Time) and stamps its
 * results (CreateTime, Ts) with the scheduler's time, not its own.
 */
import t from 'tap';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { RetinaClient } from '../../src/net/client.ts';
import { formatRetinaDateTime, parseRetinaDateTime } from '../../src/protocol/index.ts';
import { waitFor } from '../helpers/cluster.ts';
import { clip } from '../helpers/media.ts';
import { startExecutor } from '../helpers/nodes.ts';

const SKEW_MS = 3_600_000;

/** A scheduler that accepts everything, tells a time SKEW_MS ahead, and keeps the task results it is sent. */
async function skewedScheduler(): Promise<{ url: string; results: Array<{ body: Record<string, unknown>; at: number }>; timeAsked: () => number; close(): void }> {
  const results: Array<{ body: Record<string, unknown>; at: number }> = [];
  let asked = 0;
  const srv = http.createServer((req, res) => {
    let s = '';
    req.on('data', (c) => (s += c));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.method === 'GET' && req.url === '/System/Time') {
        asked++;
        const now = Date.now() + SKEW_MS;
        res.end(JSON.stringify({ StatusCode: '0', SystemTimeObject: { LocalTime: formatRetinaDateTime(now), TimeZone: 'UTC', UnixMs: now } }));
        return;
      }
      const j = s ? JSON.parse(s) : {};
      if (j.CommandType === 'task_result') results.push({ body: j.MessageBody, at: Date.now() });
      res.end(JSON.stringify(req.url === '/System/Register' ? { StatusCode: '0', KeepaliveInterval: 60 } : { StatusCode: '0', CommandType: j.CommandType, CommandIdx: j.CommandIdx }));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(srv.address() as { port: number }).port}`, results, timeAsked: () => asked, close: () => { srv.closeAllConnections(); srv.close(); } };
}

t.test('B4: results are stamped with the scheduler\'s time after the executor synchronises', async (t) => {
  const dir = t.testdir({});
  const sched = await skewedScheduler();
  const { ex, url, close } = await startExecutor(dir, 'edge-s', { schedulerUrl: sched.url });
  const client = new RetinaClient({ senderId: 'sched' });
  t.teardown(async () => { await close(); await client.close(); sched.close(); });
  await ex.start();
  t.ok(sched.timeAsked() >= 1, 'the executor asked the scheduler for its time on registering');
  const video = clip(path.join(dir, 'c.mp4'), { seconds: 2 });
  const r = await client.command(url, { CommandType: 'task_dispatch', DeviceID: 'edge-s', MessageBody: { TaskDispatchList: [{
    TaskID: 's-1', TaskAttr: 0, AlgModelInfo: { AlgID: 1001, AlgVersion: '1.0.0' }, InputInfo: { StreamURL: pathToFileURL(video).href, TaskFrameRate: 2 },
    DstDeviceList: [{ DeviceID: 'sched', OutputURL: sched.url }] }] } });
  t.equal(r.StatusCode, '0', JSON.stringify(r));
  await waitFor('results', async () => (sched.results.length >= 3 ? true : undefined), 20_000, 20);
  for (const { body, at } of sched.results.slice(0, 3)) {
    // Made before it arrived, on the scheduler's clock: within the minute before `at + SKEW_MS` (5 s
    // allowed after it for the error of a sync over a loaded loopback).
    // On the executor's own clock it would be an hour earlier.
    const made = parseRetinaDateTime(body.CreateTime as string);
    t.ok(made <= at + SKEW_MS + 5_000 && made > at + SKEW_MS - 60_000, `CreateTime ${body.CreateTime} is the scheduler's time (${Math.round((made - at) / 60_000)} min from this machine's)`);
    t.ok((body.Ts as number) > at + SKEW_MS - 60_000, 'and so is Ts');
  }
});
