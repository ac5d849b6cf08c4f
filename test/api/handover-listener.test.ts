/**
 * B3: a scheduler replica's one socket. Before an app is active, and between the follower's app
 * and the leader's, requests get a 503 in the standard's envelope with Retry-After; the swap
 * never lets the port go (nothing else can bind it meanwhile), and a client's keep-alive
 * connection reaches the new app. TLS is the listener's, whichever app serves behind it.
 */
import t from 'tap';
import net from 'node:net';
import https from 'node:https';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { Agent, request } from 'undici';
import { HandoverListener } from '../../src/api/handover-listener.ts';

const canBind = (port: number) => new Promise<boolean>((resolve) => {
  const s = net.createServer();
  s.once('error', () => resolve(false));
  s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
});

function appSaying(listener: HandoverListener, what: string) {
  const slot = listener.slot();
  const app = Fastify({ serverFactory: slot.serverFactory });
  app.get('/who', async () => ({ who: what }));
  return { app, slot };
}

t.test('B3: one socket, apps swapped behind it', async (t) => {
  const listener = new HandoverListener();
  await listener.listen('127.0.0.1', 0);
  const base = `http://127.0.0.1:${listener.port}`;
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 1 });
  t.teardown(async () => { await agent.close(); await listener.close(); });
  const get = async () => {
    const r = await request(`${base}/who`, { dispatcher: agent });
    return { status: r.statusCode, headers: r.headers, body: await r.body.json() as Record<string, unknown> };
  };

  const idle = await get();
  t.equal(idle.status, 503, 'no app yet: 503');
  t.equal(idle.headers['retry-after'], '1', 'with Retry-After');
  t.match(idle.body, { StatusCode: '1', Message: /election/ }, 'in the standard\'s envelope');

  const follower = appSaying(listener, 'follower');
  await follower.app.ready();
  t.equal((await get()).status, 503, 'an app built but not active does not serve');
  follower.slot.activate();
  t.same((await get()).body, { who: 'follower' });

  // The hand-over: the follower's app goes, the leader's comes; the port stays bound throughout.
  listener.deactivate();
  await follower.app.close();
  t.notOk(await canBind(listener.port), 'between apps, the port is still ours');
  t.equal((await get()).status, 503, 'between apps: 503');
  const leader = appSaying(listener, 'leader');
  await leader.app.ready();
  leader.slot.activate();
  t.same((await get()).body, { who: 'leader' }, 'the same client (one keep-alive connection) reaches the leader');
  t.throws(() => listener.slot().activate(), /serverFactory/, 'a slot whose app was never built cannot be activated');
});

t.test('B3: TLS belongs to the listener', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'retinad-handover-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', 'key.pem', '-out', 'cert.pem'], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`);
  const cert = readFileSync(path.join(dir, 'cert.pem'));
  const listener = new HandoverListener({ key: readFileSync(path.join(dir, 'key.pem')), cert });
  await listener.listen('127.0.0.1', 0);
  t.teardown(() => listener.close());
  const { app, slot } = appSaying(listener, 'leader');
  await app.ready();
  slot.activate();
  const body = await new Promise<string>((resolve, reject) => {
    https.get({ host: '127.0.0.1', port: listener.port, path: '/who', ca: cert }, (res) => {
      let s = '';
      res.on('data', (c: Buffer) => { s += c.toString(); }).on('end', () => resolve(s));
    }).on('error', reject);
  });
  t.same(JSON.parse(body), { who: 'leader' }, 'served over HTTPS, verified against its certificate');
  const plain = await request(`http://127.0.0.1:${listener.port}/who`).then(() => 'answered', (err: Error) => err.message);
  t.not(plain, 'answered', 'plain HTTP is not served');
});
