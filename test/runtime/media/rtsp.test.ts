/**
 * A real RTSP source: rtsp-server-perl (Debian) relays a stream an ffmpeg publisher pushes; the
 * native decoder plays it. Then the publisher is killed mid-stream: the decoder detects the stall
 * by timeout and reconnects with backoff, counting each attempt. (Resuming once a publisher
 * returns is covered over HTTP in frame-source.test.ts: this relay does not serve a re-published
 * stream to a client that was attached before.) A server that refuses the transport is
 * reported, not retried forever. RTP over TCP (interleaved) is played from a small test server
 * (helpers/rtsp-tcp-server.ts), which is also stopped and brought back: the decoder resumes.
 */
import t from 'tap';
import path from 'node:path';
import net from 'node:net';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { openFrameSource, MediaError } from '../../../src/runtime/media/frame-source.ts';
import { nativeDecoding } from '../../../src/runtime/media/native.ts';
import { ffmpegPath } from '../../../src/runtime/ffmpeg-binary.ts';
import { clip } from '../../helpers/media.ts';
import { rtspTcpServer } from '../../helpers/rtsp-tcp-server.ts';
import { waitFor } from '../../helpers/cluster.ts';

const hasServer = spawnSync('sh', ['-c', 'command -v rtsp-server-perl']).status === 0;

/** One RTSP request over TCP; resolves with the status line of the reply, or '' when refused or silent. */
function rtspStatus(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    const done = (v: string) => { sock.destroy(); resolve(v); };
    sock.setTimeout(1000, () => done(''));
    sock.on('error', () => done(''));
    sock.on('connect', () => sock.write(request));
    sock.on('data', (d) => { got += d.toString('latin1'); if (got.includes('\r\n')) done(got.split('\r\n')[0] ?? ''); });
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); }); });
}

if (nativeDecoding()) t.test('RTSP: play, survive a dropped publisher, refuse cleanly', { skip: !hasServer && 'needs rtsp-server-perl (apt)' }, async (t) => {
  const dir = t.testdir({});
  const video = clip(path.join(dir, 'live.mp4'), { size: '320x240', seconds: 4, codec: ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '10', '-pix_fmt', 'yuv420p'] });
  const [clientPort, sourcePort] = [await freePort(), await freePort()];
  const rtpBase = 30000 + Math.floor(Math.random() * 20000);
  const server = spawn('rtsp-server-perl', ['--clientport', String(clientPort), '--serverport', String(sourcePort), '--client_listen_address', '127.0.0.1',
    '--source_listen_address', '127.0.0.1', '--rtp_start_port', String(rtpBase), '--loglevel', '1'], { stdio: 'ignore' });
  t.teardown(() => server.kill('SIGKILL'));
  // Ready when the relay answers on its client port.
  await waitFor('the relay to listen', async () => ((await rtspStatus(clientPort, 'OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n')) ? true : undefined), 15_000, 50);
  const publish = (): ChildProcess => spawn(ffmpegPath(), ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', video, '-c', 'copy', '-f', 'rtsp', '-rtsp_transport', 'udp',
    `rtsp://127.0.0.1:${sourcePort}/live`], { stdio: 'ignore' });
  const pusher = publish();
  t.teardown(() => pusher.kill('SIGKILL'));
  const url = `rtsp://127.0.0.1:${clientPort}/live`;
  // Ready when the relay describes the published stream (it answers 404 until the publisher is on).
  await waitFor('the published stream', async () => (/ 200 /.test(await rtspStatus(clientPort, `DESCRIBE ${url} RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n`)) ? true : undefined), 15_000, 100);

  // Play over UDP.
  const src = openFrameSource({ url, fps: 5, rtspTransport: 'udp', openTimeoutMs: 5000, readTimeoutMs: 1500, reconnect: true, backoffMaxMs: 500 }, 'native');
  t.teardown(() => src.close());
  const pts: number[] = [];
  for (let i = 0; i < 5; i++) { const f = await src.next(); if (!f) break; pts.push(f.ptsMs); f.release(); }
  t.equal(pts.length, 5, `live frames: ${pts.map(Math.round).join(', ')}`);
  t.equal(src.stats().codec, 'h264');

  // The publisher dies and the relay goes silent: the decoder must notice by its read timeout
  // (not hang) and start reconnecting with backoff, counting each attempt.
  pusher.kill('SIGKILL');
  // The deadline only keeps a broken decoder from hanging the test.
  await waitFor('two reconnects', async () => (src.stats().reconnects >= 2 ? true : undefined), 20_000, 100);
  t.ok(src.stats().reconnects >= 2, `stall detected and reconnects counted (${src.stats().reconnects})`);
  src.close();

  // This relay does not do RTP over TCP: the refusal surfaces as a source error after a few tries.
  const tcp = openFrameSource({ url, fps: 5, rtspTransport: 'tcp', openTimeoutMs: 3000 }, 'native');
  const err = await tcp.next().then(() => null, (e: MediaError) => e);
  const tries = tcp.stats().reconnects;
  tcp.close();
  t.ok(err instanceof MediaError, `refused: ${err?.message}`);
  t.equal(err?.exceptionCode, 60);
  // Not retried forever: a source that never worked gets initialAttempts opens (3 by default).
  t.ok(tries <= 2, `given up after ${tries + 1} open(s)`);
});

if (nativeDecoding()) t.test('a live URL that never worked fails after initialAttempts instead of reconnecting forever', async (t) => {
  const port = await freePort(); // nothing listens there
  const src = openFrameSource({ url: `rtsp://127.0.0.1:${port}/cam`, fps: 1, openTimeoutMs: 500, backoffMaxMs: 100, initialAttempts: 3 }, 'native');
  const err = await src.next().then(() => null, (e: MediaError) => e);
  t.equal(err?.exceptionCode, 60, `source error: ${err?.message}`);
  t.equal(src.stats().reconnects, 2, 'three opens: the first and two reconnects');
  src.close();
});

if (nativeDecoding()) t.test('RTSP over TCP (interleaved): play, lose the server, resume when it returns', async (t) => {
  const dir = t.testdir({});
  const video = clip(path.join(dir, 'cam.mp4'), { size: '320x240', seconds: 4, codec: ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '10', '-pix_fmt', 'yuv420p'] });
  const server = await rtspTcpServer(video, path.join(dir, 'cam.sdp'));
  t.teardown(() => server.stop());
  const src = openFrameSource({ url: server.url, fps: 5, rtspTransport: 'tcp', openTimeoutMs: 5000, readTimeoutMs: 1500, reconnect: true, backoffMaxMs: 400 }, 'native');
  t.teardown(() => src.close());
  const take = async (n: number) => {
    const out: Array<{ pts: number; w: number }> = [];
    for (let i = 0; i < n; i++) { const f = await src.next(); if (!f) break; out.push({ pts: f.ptsMs, w: f.width }); f.release(); }
    return out;
  };
  const before = await take(5);
  t.equal(before.length, 5, `frames over TCP: ${before.map((f) => Math.round(f.pts)).join(', ')}`);
  t.ok(before.every((f) => f.w === 320), '320 wide');
  t.ok(server.requests.some((r) => /^SETUP RTP\/AVP\/TCP/.test(r)), `the client asked for TCP: ${server.requests.join(' | ')}`);
  t.equal(src.stats().codec, 'h264');

  // The server goes away: the stall is detected, reconnects are counted...
  await server.stop();
  await waitFor('a reconnect', async () => (src.stats().reconnects >= 1 ? true : undefined), 15_000, 100);
  t.ok(src.stats().reconnects >= 1, `stall noticed (${src.stats().reconnects} reconnect(s))`);
  // ...and when it is back on the same port, frames flow again.
  await server.start();
  const after = await take(5);
  t.equal(after.length, 5, `resumed: ${after.map((f) => Math.round(f.pts)).join(', ')}`);
  t.ok((after.at(-1)?.pts ?? NaN) > (before.at(-1)?.pts ?? NaN), 'time stamps go on past the gap');
});

// Without the FFmpeg libraries the ffmpeg binary decodes: it must play the same camera over
// RTSP/TCP and hand the core real pictures (reconnection is the native decoder's, above).
t.test('pipe backend: RTSP over TCP (interleaved) plays and its frames preprocess', async (t) => {
  const dir = t.testdir({});
  const video = clip(path.join(dir, 'cam.mp4'), { size: '320x240', seconds: 4, codec: ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '10', '-pix_fmt', 'yuv420p'] });
  const server = await rtspTcpServer(video, path.join(dir, 'cam.sdp'));
  t.teardown(() => server.stop());
  const src = openFrameSource({ url: server.url, fps: 5, openTimeoutMs: 5000, readTimeoutMs: 3000 }, 'pipe');
  t.teardown(() => src.close());
  const pts: number[] = [];
  let worked = false;
  for (let i = 0; i < 5; i++) {
    const f = await src.next();
    if (!f) break;
    pts.push(f.ptsMs);
    if (i === 0) {
      const out = new Uint8Array(64 * 64 * 3);
      const info = await f.preprocess({ width: 64, height: 64, dtype: 'uint8' }, out);
      worked = info.contentWidth === 64 && info.contentHeight === 48 && out.some((v) => v !== 114);
    }
    f.release();
  }
  t.equal(pts.length, 5, `frames over TCP: ${pts.map(Math.round).join(', ')}`);
  t.ok(pts.every((p, i) => i === 0 || p > pts[i - 1]!), 'time stamps increase');
  t.ok(worked, 'a 320x240 frame letterboxes into 64x48 of a 64x64 tensor with picture in it');
  t.ok(server.requests.some((r) => /^SETUP RTP\/AVP\/TCP/.test(r)), 'the client asked for TCP');
  t.equal(src.stats().codec, 'h264');
});
