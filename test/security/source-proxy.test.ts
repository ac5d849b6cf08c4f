/**
 * Where a source leads is confined like the source itself (issue 10, item 4: "redirects not
 * followed" unchecked): FFmpeg's HTTP(S) requests go through the executor's source proxy
 * (src/net/source-proxy.ts), which applies the URL policy to every hop, and FFmpeg may open only
 * the protocols the source's scheme needs. Each attack runs against real FFmpeg on both decode
 * backends (libavformat in process, the ffmpeg binary over a pipe), with a positive control that
 * the same path works where the policy allows it:
 * - a 302 from an allowed origin to link-local (cloud metadata) is refused, naming the rule;
 * - an HLS playlist whose segment is on a forbidden host is refused;
 * - an HLS playlist whose segment is a local file is not read (protocol whitelist);
 * - the proxy answers only its leases (407), only GET/HEAD (405), and CONNECT only to allowed hosts.
 * And end to end: an executor's task whose StreamURL redirects to a forbidden host ends in
 * ExceptionCode 60 with that rule in ExceptionDesc.
 */
import t from 'tap';
import http from 'node:http';
import https from 'node:https';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { SourceProxy } from '../../src/net/source-proxy.ts';
import { openFrameSource, type MediaError, type FrameSource } from '../../src/runtime/media/frame-source.ts';
import { nativeDecoding } from '../../src/runtime/media/native.ts';
import { clip } from '../helpers/media.ts';
import { startExecutor } from '../helpers/nodes.ts';
import { waitFor } from '../helpers/cluster.ts';
import { RetinaClient } from '../../src/net/client.ts';
import { ExecutionStatus } from '../../src/protocol/index.ts';

const backends = (nativeDecoding() ? ['native', 'pipe'] : ['pipe']) as Array<'native' | 'pipe'>;
const dir = t.testdir({});
const mp4 = readFileSync(clip(path.join(dir, 'a.mp4'), { seconds: 2 }));
const tsFile = clip(path.join(dir, 'seg.ts'), { seconds: 2, extra: ['-f', 'mpegts'] });
const ts = readFileSync(tsFile);

/** An origin: `routes` maps a path to a handler; records every path asked. */
async function origin(routes: Record<string, (res: http.ServerResponse, req: http.IncomingMessage) => void>): Promise<{ url: string; hits: string[]; close(): Promise<void> }> {
  const hits: string[] = [];
  const srv = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    const h = routes[(req.url ?? '').split('?')[0] ?? ''];
    if (h) h(res, req); else res.writeHead(404).end();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`, hits,
    close: () => new Promise<void>((r) => { srv.closeAllConnections(); srv.close(() => r()); }) };
}
/** Serves `body`, honouring Range as file servers do (FFmpeg seeks in an MP4 with ranges: they pass through the proxy). */
const send = (type: string, body: Buffer | string) => (res: http.ServerResponse, req: http.IncomingMessage) => {
  const data = Buffer.from(body);
  const [, a, b] = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '') ?? [];
  if (a === undefined) { res.writeHead(200, { 'content-type': type, 'content-length': data.length, 'accept-ranges': 'bytes' }); res.end(data); return; }
  const start = Number(a), end = b ? Math.min(Number(b), data.length - 1) : data.length - 1;
  res.writeHead(206, { 'content-type': type, 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${data.length}`, 'accept-ranges': 'bytes' });
  res.end(data.subarray(start, end + 1));
};
const redirect = (to: string) => (res: http.ServerResponse) => { res.writeHead(302, { location: to, 'content-length': '0' }).end(); };

async function drain(src: FrameSource): Promise<{ frames: number; error: MediaError | null }> {
  let frames = 0;
  try {
    for (let f = await src.next(); f; f = await src.next()) { frames++; f.release(); }
    return { frames, error: null };
  } catch (err) {
    return { frames, error: err as MediaError };
  } finally {
    src.close();
  }
}

/** A self-signed certificate for 127.0.0.1 (FFmpeg does not verify by default; the tunnel is what is tested). */
function selfSigned(): { key: Buffer; cert: Buffer } {
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', 'tls.key', '-out', 'tls.pem'], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`);
  return { key: readFileSync(path.join(dir, 'tls.key')), cert: readFileSync(path.join(dir, 'tls.pem')) };
}

// Loopback is allowed here (the origins are local); link-local never is, whatever the flags.
const proxy = new SourceProxy({ mediaDirs: [], allowPrivate: true });
t.before(() => proxy.start());
t.teardown(() => proxy.close());

for (const b of backends) {
  t.test(`${b}: a redirect to an allowed origin is followed, one to link-local is refused`, async (t) => {
    const o = await origin({
      '/clip.mp4': send('video/mp4', mp4),
      '/moved.mp4': redirect('/clip.mp4'),
      '/metadata.mp4': redirect('http://169.254.169.254/latest/meta-data/iam/clip.mp4'),
    });
    t.teardown(() => o.close());
    const ok = proxy.lease('InputInfo.StreamURL');
    const good = await drain(openFrameSource({ url: `${o.url}/moved.mp4`, fps: 5, httpProxy: ok.url, readTimeoutMs: 5000 }, b));
    t.equal(good.error, null, 'the allowed redirect decodes');
    t.ok(good.frames >= 9, `${good.frames} frames through the redirect`);
    t.equal(ok.refusal(), null);
    ok.release();

    const bad = proxy.lease('InputInfo.StreamURL');
    const r = await drain(openFrameSource({ url: `${o.url}/metadata.mp4`, fps: 5, httpProxy: bad.url, readTimeoutMs: 5000, openTimeoutMs: 5000 }, b));
    t.equal(r.frames, 0, 'nothing decoded');
    t.ok(r.error, 'the source fails');
    t.match(bad.refusal(), /^InputInfo\.StreamURL: led to http:\/\/169\.254\.169\.254\/latest\/meta-data\/iam\/clip\.mp4 \(a redirect or a playlist entry\), refused: host 169\.254\.169\.254 is link-local/);
    bad.release();
  });

  t.test(`${b}: an HLS playlist cannot lead to a forbidden host or to a local file`, async (t) => {
    const playlist = (seg: string) => `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2.0,\n${seg}\n#EXT-X-ENDLIST\n`;
    const o = await origin({
      '/ok.m3u8': send('application/vnd.apple.mpegurl', playlist('seg.ts')),
      '/seg.ts': send('video/mp2t', ts),
      '/meta.m3u8': send('application/vnd.apple.mpegurl', playlist('http://169.254.169.254/seg.ts')),
      '/local.m3u8': send('application/vnd.apple.mpegurl', playlist(`file://${tsFile}`)),
    });
    t.teardown(() => o.close());
    const ok = proxy.lease('InputInfo.StreamURL');
    const good = await drain(openFrameSource({ url: `${o.url}/ok.m3u8`, fps: 5, httpProxy: ok.url, readTimeoutMs: 5000 }, b));
    t.ok(good.frames >= 9, `a playlist with an allowed segment decodes (${good.frames} frames)`);
    ok.release();

    const meta = proxy.lease('InputInfo.StreamURL');
    const m = await drain(openFrameSource({ url: `${o.url}/meta.m3u8`, fps: 5, httpProxy: meta.url, readTimeoutMs: 5000, openTimeoutMs: 5000 }, b));
    t.equal(m.frames, 0, 'no frame from a link-local segment');
    t.match(meta.refusal(), /led to http:\/\/169\.254\.169\.254\/seg\.ts .*link-local/);
    meta.release();

    const local = proxy.lease('InputInfo.StreamURL');
    const l = await drain(openFrameSource({ url: `${o.url}/local.m3u8`, fps: 5, httpProxy: local.url, readTimeoutMs: 5000, openTimeoutMs: 5000 }, b));
    t.equal(l.frames, 0, 'the local file the playlist names is not read (the same file served over HTTP decoded above)');
    local.release();
  });
}

t.test('https: FFmpeg reaches the origin through a CONNECT tunnel; an https redirect to link-local is refused', async (t) => {
  const hits: string[] = [];
  const srv = https.createServer(selfSigned(), (req, res) => {
    hits.push(req.url ?? '');
    if (req.url === '/meta.mp4') { res.writeHead(302, { location: 'https://169.254.169.254/x.mp4', 'content-length': '0' }).end(); return; }
    send('video/mp4', mp4)(res, req);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => { srv.closeAllConnections(); srv.close(() => r()); }));
  const base = `https://127.0.0.1:${(srv.address() as net.AddressInfo).port}`;
  for (const b of backends) {
    const ok = proxy.lease('InputInfo.StreamURL');
    const good = await drain(openFrameSource({ url: `${base}/a.mp4`, fps: 5, httpProxy: ok.url, readTimeoutMs: 5000 }, b));
    t.equal(good.error, null, `${b}: decodes over https through the proxy`);
    t.ok(good.frames >= 9, `${b}: ${good.frames} frames`);
    ok.release();
    const bad = proxy.lease('InputInfo.StreamURL');
    const r = await drain(openFrameSource({ url: `${base}/meta.mp4`, fps: 5, httpProxy: bad.url, readTimeoutMs: 5000, openTimeoutMs: 5000 }, b));
    t.equal(r.frames, 0);
    t.match(bad.refusal(), /led to https:\/\/169\.254\.169\.254:?\d* .*link-local/, `${b}: the redirect's tunnel is refused`);
    bad.release();
  }
  t.ok(hits.length >= 2, 'the origin was reached through the tunnel');
});

t.test('the proxy serves its leases only, reads only, and tunnels only to allowed hosts', async (t) => {
  const o = await origin({ '/x': send('text/plain', 'origin') });
  t.teardown(() => o.close());
  const lease = proxy.lease('InputInfo.StreamURL');
  const u = new URL(lease.url);
  const auth = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
  const ask = (method: string, target: string, headers: Record<string, string>) => new Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: Number(u.port), method, path: target, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
  const none = await ask('GET', `${o.url}/x`, {});
  t.equal(none.status, 407, 'no credentials: 407');
  t.match(none.headers['proxy-authenticate'], /^Basic realm=/, 'with a Basic challenge (FFmpeg answers it)');
  t.equal((await ask('GET', `${o.url}/x`, { 'proxy-authorization': `Basic ${Buffer.from(`${u.username}:wrong`).toString('base64')}` })).status, 407, 'a wrong secret: 407');
  const good = await ask('GET', `${o.url}/x`, { 'proxy-authorization': auth });
  t.equal(good.body, 'origin', 'a lease reads through it');
  t.equal((await ask('POST', `${o.url}/x`, { 'proxy-authorization': auth })).status, 405, 'only GET and HEAD');
  const meta = await ask('GET', 'http://169.254.169.254/latest/meta-data/', { 'proxy-authorization': auth });
  t.equal(meta.status, 403);
  t.match(meta.body, /link-local/, 'the refusal names the rule');
  lease.release();
  t.equal((await ask('GET', `${o.url}/x`, { 'proxy-authorization': auth })).status, 407, 'a released lease is gone');

  // CONNECT (how FFmpeg reaches https:// through a proxy): to an allowed host a tunnel, to link-local a 403.
  const lease2 = proxy.lease('InputInfo.StreamURL');
  const u2 = new URL(lease2.url);
  const auth2 = `Basic ${Buffer.from(`${u2.username}:${u2.password}`).toString('base64')}`;
  const connect = (target: string) => new Promise<string>((resolve) => {
    const s = net.connect(Number(u2.port), '127.0.0.1', () => s.write(`CONNECT ${target} HTTP/1.1\r\nhost: ${target}\r\nproxy-authorization: ${auth2}\r\n\r\n`));
    let got = '';
    s.on('data', (c: Buffer) => {
      got += c.toString();
      if (got.startsWith('HTTP/1.1 200') && got.includes('\r\n\r\n') && !got.includes('origin')) s.write(`GET /x HTTP/1.1\r\nhost: ${target}\r\nconnection: close\r\n\r\n`);
    });
    s.on('close', () => resolve(got));
    s.on('error', () => resolve(got));
  });
  const tunnel = await connect(new URL(o.url).host);
  t.match(tunnel, /^HTTP\/1\.1 200 Connection Established/, 'a tunnel to an allowed host');
  t.match(tunnel, /origin$/, 'bytes go both ways through it');
  t.match(await connect('169.254.169.254:443'), /^HTTP\/1\.1 403 Forbidden[\s\S]*link-local/, 'no tunnel to link-local');
  lease2.release();
});

t.test('end to end: a task whose StreamURL redirects to link-local ends in ExceptionCode 60 naming the rule', async (t) => {
  const o = await origin({ '/cam.mp4': redirect('http://169.254.169.254/latest/meta-data/'), '/ok.mp4': redirect('/real.mp4'), '/real.mp4': send('video/mp4', mp4) });
  const ex = await startExecutor(t.testdir({}), 'edge-proxy');
  const client = new RetinaClient({ senderId: 'sched' });
  t.teardown(async () => { await o.close(); await ex.close(); await client.close(); });
  const dispatch = (id: string, url: string) => client.command(ex.url, { CommandType: 'task_dispatch', DeviceID: 'edge-proxy', MessageBody: { TaskDispatchList: [{
    TaskID: id, TaskAttr: 0, AlgModelInfo: { AlgID: 1001, AlgVersion: '1.0.0' }, InputInfo: { StreamURL: url, TaskFrameRate: 2 }, DstDeviceList: [{ DeviceID: 'x', OutputURL: 'http://127.0.0.1:9' }] }] } });
  t.equal((await dispatch('via-meta', `${o.url}/cam.mp4`)).StatusCode, '0', 'the StreamURL itself is allowed at dispatch');
  t.equal((await dispatch('via-ok', `${o.url}/ok.mp4`)).StatusCode, '0');
  const ended = (id: string) => waitFor(`${id} ends`, async () => { const s = ex.ex.taskStatus(id); return s && (s.ExecutionStatus === ExecutionStatus.Done || s.ExecutionStatus === ExecutionStatus.Error) ? s : undefined; }, 30_000);
  const bad = await ended('via-meta');
  t.equal(bad.ExecutionStatus, ExecutionStatus.Error);
  t.equal(bad.ExceptionCode, 60, 'a data-source error');
  t.match(bad.ExceptionDesc, /InputInfo\.StreamURL: led to http:\/\/169\.254\.169\.254\/latest\/meta-data\/ .*link-local/);
  const good = await ended('via-ok');
  t.equal(good.ExecutionStatus, ExecutionStatus.Done, 'the task whose redirect stays allowed finishes (positive control)');
});
