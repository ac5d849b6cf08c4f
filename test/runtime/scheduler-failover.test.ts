/**
 * Issue 14 (B3, EM1, ED4): an executor given several scheduler replicas (`--scheduler A,B`)
 * registers with the first that answers and moves on when its replica stops answering; what its
 * outbox holds for a replica goes to the next one, all of it, once, in order, while a URL on no
 * replica is never re-pointed and never gets our credentials. Real HTTP servers as the replicas,
 * a real executor (a `retinad executor` process for the session, in-process for the outbox).
 */
import t from 'tap';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { startRole } from '../../src/child-role.ts';
import { RetinaClient } from '../../src/net/client.ts';
import { ExecutionStatus } from '../../src/protocol/index.ts';
import { SchedulerReplicas } from '../../src/runtime/replicas.ts';
import { EXECUTOR_TEST_ARGS, waitFor } from '../helpers/cluster.ts';
import { clip } from '../helpers/media.ts';
import { startExecutor } from '../helpers/nodes.ts';
import { startReplica, type FakeReplica } from '../helpers/replica.ts';

const keepalivesAt = (r: FakeReplica) => r.arrivals.filter((a) => a.path === '/System/Keepalive').length;

t.test('replicas: a URL is matched to its replica by origin and moved below the same path', async (t) => {
  const r = new SchedulerReplicas(['http://a:7100/', 'http://B:7100']);
  t.strictSame(r.urls, ['http://a:7100', 'http://B:7100'], 'trailing slashes dropped');
  t.equal(r.replicaOf('http://b:7100/System/Command'), 'http://B:7100', 'host names compare as origins do');
  t.equal(r.replicaOf('http://a:7101'), undefined, 'another port is another origin: no replica');
  t.equal(r.replicaOf('not a url'), undefined);
  t.ok(r.isBase('http://a:7100/'), 'a replica\'s own base URL');
  t.notOk(r.isBase('http://a:7100/elsewhere'), 'a path on its origin is not its base');
  t.equal(SchedulerReplicas.rebase('http://a:7100/x?y=1', 'http://a:7100', 'http://B:7100'), 'http://B:7100/x?y=1', 'same path and query on the next');
  t.equal(r.current, 'http://a:7100');
  t.equal(r.advance(), 'http://B:7100');
  t.equal(r.advance(), 'http://a:7100', 'round robin');
  t.equal(r.home, 'http://a:7100', 'the queue name stays the first');
});

t.test('EM1/B3: the session moves to the next replica when its own stops answering, then back (`retinad executor --scheduler A,B`)', async (t) => {
  const dir = t.testdir({});
  const a = await startReplica('A');
  const b = await startReplica('B');
  const logFile = path.join(dir, 'edge-f.log');
  const ex = await startRole(['executor', '--listen', '127.0.0.1:0', '--device-id', 'edge-f', '--data-dir', path.join(dir, 'edge-f'), '--scheduler', `${a.url},${b.url}`, ...EXECUTOR_TEST_ARGS],
    { env: { RETINAD_SKIP_SELF_BENCH: '1', RETINAD_LOG_LEVEL: 'info' }, logFile });
  t.teardown(async () => { await ex.stop(3000); await a.die().catch(() => undefined); await b.die().catch(() => undefined); });
  const switches = () => readFileSync(logFile, 'utf8').split('\n').filter((l) => l.includes('scheduler replica did not answer')).map((l) => JSON.parse(l) as { from: string; to: string });

  await waitFor('Register at A', async () => (a.registers() >= 1 ? true : undefined), 20_000);
  await waitFor('a keepalive at A', async () => (keepalivesAt(a) >= 1 ? true : undefined), 10_000);
  t.equal(b.registers(), 0, 'B is left alone while A answers');

  await a.die();
  const diedAt = Date.now();
  await waitFor('Register at B', async () => (b.registers() >= 1 ? true : undefined), 10_000);
  t.ok(Date.now() - diedAt < 10_000, `registered with B ${Date.now() - diedAt} ms after A died (keepalive every 1 s)`);
  await waitFor('keepalives at B', async () => (keepalivesAt(b) >= 2 ? true : undefined), 10_000);
  t.ok(b.arrivals.some((x) => x.path === '/System/ResourceInfo/AvailableResource'), 'resource reports go to B');
  t.ok(b.arrivals.some((x) => x.path === '/System/Time'), 'and time sync');
  t.match(switches(), [{ from: a.url, to: b.url }], 'the switch is logged, from A to B');

  await a.revive();
  const registersAtA = a.registers();
  await b.die();
  await waitFor('Register at A again', async () => (a.registers() > registersAtA ? true : undefined), 10_000);
  await waitFor('keepalives at A again', async () => (keepalivesAt(a) >= 2 ? true : undefined), 10_000);
  t.match(switches(), [{ from: a.url, to: b.url }, { from: b.url, to: a.url }], 'and back, logged');
});

t.test('EM1: a replica that answers 503 (a follower without its leader) is left for the next at Register', async (t) => {
  const dir = t.testdir({});
  const a = await startReplica('A');
  const b = await startReplica('B');
  a.status = 503;
  const { ex, close } = await startExecutor(dir, 'edge-u', { schedulerUrl: [a.url, b.url] });
  t.teardown(async () => { await close(); await a.die(); await b.die(); });
  await ex.start();
  t.equal(ex.session?.schedulerUrl, b.url, 'registered with B');
  t.ok(a.arrivals.some((x) => x.path === '/System/Register'), 'after A was asked first');
});

t.test('B3/ED4: results queued for replica A reach B after A dies: all, once each, in order; a URL on no replica is not re-pointed', async (t) => {
  const dir = t.testdir({});
  const a = await startReplica('A');
  const b = await startReplica('B');
  // C: a next stage that is no replica, down for now (its port kept for later).
  const c = await startReplica('C');
  await c.die();
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(s) });
  const token = 'node-token-0123456789abcdef';
  const { ex, url, close } = await startExecutor(dir, 'edge-o', { schedulerUrl: [a.url, b.url], token, log });
  const client = new RetinaClient({ senderId: 'scheduler/1' });
  t.teardown(async () => { await close(); await client.close(); for (const r of [a, b, c]) await r.die().catch(() => undefined); });
  await ex.start();
  t.equal(ex.session?.schedulerUrl, a.url, 'registered with A');

  // A dies once it has answered three results: the fourth is in flight, dropped unanswered.
  let answered = 0;
  a.onAnswer = (x) => { if (x.body.CommandType === 'task_result' && ++answered === 3) void a.die(); };
  const video = clip(path.join(dir, 'c.mp4'), { seconds: 3 });
  const task = (id: string, output: string) => ({ CommandType: 'task_dispatch', DeviceID: 'edge-o', MessageBody: { TaskDispatchList: [{
    TaskID: id, TaskAttr: 0, AlgModelInfo: { AlgID: 1001, AlgVersion: '1.0.0' }, InputInfo: { StreamURL: pathToFileURL(video).href, TaskFrameRate: 5 },
    DstDeviceList: [{ DeviceID: id.startsWith('to-a') ? 'scheduler' : 'edge-c', OutputURL: output }] }] } });
  // to-a: to A's own URL (the scheduler's queue); to-a-path: to a path below A (a queue of its own, not the session's).
  t.equal((await client.command(url, task('to-a', `${a.url}/System/Command`))).StatusCode, '0');
  t.equal((await client.command(url, task('to-a-path', `${a.url}/ingest/System/Command`))).StatusCode, '0');
  t.equal((await client.command(url, task('to-c', c.url))).StatusCode, '0');

  const done = (r: FakeReplica, id: string) => r.arrivals.find((x) => x.path === '/System/TaskStatus/' &&
    (x.body.TaskStatusList as Array<{ TaskID: string; ExecutionStatus: number }>).some((s) => s.TaskID === id && s.ExecutionStatus === ExecutionStatus.Done));
  const framesOut = (r: FakeReplica, id: string) => (done(r, id)!.body.TaskStatusList as Array<{ ResourcesOccupied: { FramesOut: number } }>)[0]!.ResourcesOccupied.FramesOut;
  const pts = (r: FakeReplica, id: string) => r.results().filter((x) => x.TaskID === id).map((x) => (x.TaskResultData as { ImageResult: { ImageInfo: { Pts: number } } }).ImageResult.ImageInfo.Pts);
  for (const id of ['to-a', 'to-a-path']) {
    await waitFor(`${id} done, reported at B`, async () => done(b, id), 60_000);
    const n = framesOut(b, id);
    await waitFor(`every result of ${id} delivered`, async () => (pts(a, id).length + pts(b, id).length >= n ? true : undefined), 20_000);
    const all = [...pts(a, id), ...pts(b, id)];
    t.ok(pts(b, id).length > 0, `${id}: B got ${pts(b, id).length} after A took ${pts(a, id).length}`);
    t.equal(all.length, n, `${id}: all ${n} results, no more: none lost, none twice`);
    t.strictSame(all, [...all].sort((x, y) => x - y), `${id}: in order across the switch`);
    t.equal(new Set(all).size, all.length, `${id}: each once`);
  }
  t.equal(answered, 3, 'A answered three results before it died');
  t.ok(b.arrivals.filter((x) => (x.body.MessageBody as { TaskID?: string } | undefined)?.TaskID === 'to-a-path').every((x) => x.path === '/ingest/System/Command'),
    'to-a-path went on to the same path on B');
  t.ok(lines.some((l) => l.includes('outbox: scheduler replica did not answer')), 'the outbox logged the move');
  for (const x of [...a.arrivals, ...b.arrivals].filter((y) => y.path.endsWith('/System/Command'))) t.match(x.authorization, /^Bearer /, 'replicas are configured peers: results carry our bearer');

  // C: no replica. While it is down its results wait for it, and nothing of it went to B.
  t.notOk(b.results().some((x) => x.TaskID === 'to-c'), 'results for C were not re-pointed to a replica');
  await waitFor('to-c done (reported to the scheduler)', async () => done(b, 'to-c'), 60_000);
  await c.revive();
  const cOut = framesOut(b, 'to-c');
  await waitFor('to-c results at C once it is back', async () => (c.results().length >= cOut ? true : undefined), 40_000);
  t.equal(c.results().length, cOut, 'C got all of its own, late');
  t.notOk(c.arrivals.some((x) => x.authorization), 'C, a URL from a request, got no credentials');
  t.notOk(JSON.stringify([...a.arrivals, ...b.arrivals].map((x) => x.body)).includes(token), 'the node token is in no body either');
});
