/**
 * Credentials go only to configured peers (issue 10 item 1). Before: the scheduler sent
 * `Authorization: Bearer <node token>` to a TaskRequest's NotifyURL, and executors sent it to
 * any OutputURL and AlgFileURL — anyone who could submit a task collected the node token.
 * Now: NotifyURL pushes carry no credential but a signature the initiator verifies with the
 * task's NotifyKey; an OutputURL gets the token only when it is a configured peer or an
 * executor the scheduler registered; AlgFileURL is only the scheduler's repository (or a file
 * under --package-dir) and nothing is fetched from anywhere else.
 */
import t from 'tap';
import http from 'node:http';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { startCluster, waitFor, waitTaskEnd } from '../helpers/cluster.ts';
import { startExecutor } from '../helpers/nodes.ts';
import { clip } from '../helpers/media.ts';
import { RetinaClient } from '../../src/net/client.ts';
import { SIGNATURE_HEADER, verifyNotification } from '../../src/net/notify-signature.ts';
import { defined } from '../helpers/defined.ts';

interface Seen { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }

/** An HTTP server that records every request (an attacker's URL) and answers like a peer. */
async function recorder(): Promise<{ url: string; seen: Seen[]; close(): void }> {
  const seen: Seen[] = [];
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      let j: { CommandType?: string; CommandIdx?: number } = {};
      try { j = JSON.parse(body || '{}'); } catch { /* not JSON */ }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ CommandType: j.CommandType, CommandIdx: j.CommandIdx, StatusCode: '0' }));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(srv.address() as { port: number }).port}`, seen, close: () => srv.close() };
}

const leaks = (seen: Seen[], token: string) => seen.filter((s) => JSON.stringify(s.headers).includes(token) || s.headers.authorization !== undefined);

t.test('NotifyURL: signed pushes, never the token; the scheduler itself is refused', async (t) => {
  const dir = t.testdir({});
  const c = await startCluster(path.join(dir, 'c'), 1);
  const spy = await recorder();
  t.teardown(async () => { spy.close(); await c.stop(); });
  const video = clip(path.join(dir, 'v.mp4'), { seconds: 2 });
  const submit = (notify: string) => c.client.send('POST', `${c.scheduler.url}/System/TaskRequest/`, { TaskName: 'notify', TaskType: 1,
    InitiationInfo: { DeviceID: 'init', CustomInfo: { Inputs: [{ StreamURL: pathToFileURL(video).href }], AlgType: 'frame_extraction', TaskFrameRate: 2, NotifyURL: notify } } });
  const r = await submit(spy.url);
  const reply = r.body as { StatusCode: string; TaskID: string; NotifyKey?: string };
  t.equal(reply.StatusCode, '0');
  t.match(reply.NotifyKey, /^[A-Za-z0-9_-]{43}$/, 'the reply carries the task\'s NotifyKey');
  await waitTaskEnd(c, reply.TaskID);
  await waitFor('results and a final status pushed', async () => (spy.seen.some((s) => s.body.includes('"ExecutionStatus":0')) && spy.seen.some((s) => s.body.includes('task_result')) ? true : undefined), 15_000);
  t.strictSame(leaks(spy.seen, c.token), [], `none of ${spy.seen.length} pushes carried an Authorization header or the token`);
  t.ok(spy.seen.every((s) => verifyNotification(reply.NotifyKey!, s.headers[SIGNATURE_HEADER] as string, s.body)), 'every push verifies with the NotifyKey');
  const push = defined(spy.seen[0], 'a push');
  t.notOk(verifyNotification('another-task-key', push.headers[SIGNATURE_HEADER] as string, push.body), 'and not with another key');

  const self = await submit(`${c.scheduler.url}/hook`);
  t.equal(self.status, 422);
  t.match((self.body as { Message: string }).Message, /NotifyURL: must not point at this scheduler/, 'a NotifyURL looping back to the scheduler is refused');
  const meta = await submit('http://169.254.169.254/latest/meta-data/');
  t.match((meta.body as { Message: string }).Message, /NotifyURL: host 169\.254\.169\.254 is link-local/, 'cloud metadata is never a NotifyURL');
});

t.test('OutputURL gets the node token only when trusted; AlgFileURL only from the repository or a package dir', async (t) => {
  const dir = t.testdir({});
  const token = 'node-token-0123456789abcdef';
  const spy = await recorder();
  const video = clip(path.join(dir, 'v.mp4'), { seconds: 1 });
  const { url, close } = await startExecutor(dir, 'edge-c', { token, packageDirs: [dir] });
  const trustedPeer = await startExecutor(dir, 'edge-t', { token, peers: [spy.url] });
  const client = new RetinaClient({ senderId: 'sched' });
  t.teardown(async () => { spy.close(); await close(); await trustedPeer.close(); await client.close(); });
  const dispatch = (u: string, id: string, alg: Record<string, unknown> = { AlgID: 1001, AlgVersion: '1.0.0' }) => client.command(u, { CommandType: 'task_dispatch', DeviceID: u === url ? 'edge-c' : 'edge-t', MessageBody: { TaskDispatchList: [{
    TaskID: id, TaskAttr: 0, AlgModelInfo: alg, InputInfo: { StreamURL: pathToFileURL(video).href, TaskFrameRate: 2 }, DstDeviceList: [{ DeviceID: 'x', OutputURL: spy.url }] }] } });

  t.equal((await dispatch(url, 'untrusted')).StatusCode, '0');
  await waitFor('results at the untrusted OutputURL', async () => (spy.seen.some((s) => s.body.includes('"untrusted"')) ? true : undefined), 20_000);
  t.strictSame(leaks(spy.seen.filter((s) => s.body.includes('"untrusted"')), token), [], 'an OutputURL from a dispatch is sent results without the token');
  t.equal((await dispatch(trustedPeer.url, 'trusted')).StatusCode, '0');
  await waitFor('results at the configured peer', async () => (spy.seen.some((s) => s.body.includes('"trusted"')) ? true : undefined), 20_000);
  t.ok(spy.seen.filter((s) => s.body.includes('"trusted"')).every((s) => s.headers.authorization === `Bearer ${token}`), 'a --peer is sent the token (positive control)');

  const before = spy.seen.length;
  const remote = await dispatch(url, 'pkg-remote', { AlgID: 7001, AlgVersion: '1.0.0', AlgFileURL: `${spy.url}/evil.rpk` });
  t.equal(remote.StatusCode, '1');
  t.match(remote.Message, /AlgFileURL: must be the scheduler's algorithm repository/);
  t.equal(spy.seen.length, before, 'nothing was fetched from the foreign AlgFileURL');
  for (const u of ['file:///dev/zero', 'file:///etc/passwd', 'file:///nonexistent-dir/missing.rpk']) {
    const r = await dispatch(url, `pkg-${path.basename(u)}`, { AlgID: 7002, AlgVersion: '1.0.0', AlgFileURL: u });
    t.match(r.Message, /AlgFileURL: is not an allowed package \(a regular file under a --package-dir\)/, `${u} refused, same words whether it exists or not`);
  }
  execFileSync('mkfifo', [path.join(dir, 'fifo.rpk')]);
  const fifo = await dispatch(url, 'pkg-fifo', { AlgID: 7003, AlgVersion: '1.0.0', AlgFileURL: pathToFileURL(path.join(dir, 'fifo.rpk')).href });
  t.match(fifo.Message, /is not an allowed package/, 'a FIFO inside the package dir is refused (it would be read forever)');
});
