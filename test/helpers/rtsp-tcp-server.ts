/**
 * A small RTSP server for tests that serves RTP over TCP (interleaved, RFC 2326 §10.12), the
 * transport the Debian relay does not offer. An ffmpeg child packetises a clip to RTP over UDP on
 * loopback; the server answers OPTIONS / DESCRIBE / SETUP / PLAY / GET_PARAMETER / TEARDOWN and
 * forwards every RTP packet to each playing client as `$ channel length packet`. `stop()` drops
 * all clients and the publisher; `start()` again brings the stream back on the same port.
 */
import net from 'node:net';
import dgram from 'node:dgram';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, existsSync, rmSync } from 'node:fs';
import { ffmpegPath } from '../../src/runtime/ffmpeg-binary.ts';

export interface RtspTcpServer {
  url: string;
  /** RTSP requests seen, e.g. `SETUP RTP/AVP/TCP;unicast;interleaved=0-1`. */
  requests: string[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function rtspTcpServer(clip: string, sdpFile: string, port = 0): Promise<RtspTcpServer> {
  let publisher: ChildProcess | null = null;
  let udp: dgram.Socket | null = null;
  let tcp: net.Server | null = null;
  let sdp = '';
  const players = new Set<net.Socket>();
  const sockets = new Set<net.Socket>();
  const requests: string[] = [];
  let rtspPort = port;

  function handle(sock: net.Socket): void {
    sockets.add(sock);
    let buf = '';
    sock.on('error', () => undefined);
    sock.on('close', () => { players.delete(sock); sockets.delete(sock); });
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        const [line = '', ...hs] = head.split('\r\n'); // split() returns at least one element
        const [method, uri] = line.split(' ');
        const h = new Map(hs.map((x) => [x.slice(0, x.indexOf(':')).toLowerCase(), x.slice(x.indexOf(':') + 1).trim()]));
        const cseq = h.get('cseq') ?? '0';
        const transport = h.get('transport') ?? '';
        requests.push(`${method} ${transport}`.trim());
        const reply = (status: string, extra: string[] = [], body = '') =>
          sock.write([`RTSP/1.0 ${status}`, `CSeq: ${cseq}`, ...extra, ...(body ? [`Content-Length: ${Buffer.byteLength(body)}`] : []), '', body].join('\r\n'));
        if (method === 'OPTIONS') reply('200 OK', ['Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER']);
        else if (method === 'DESCRIBE') reply('200 OK', ['Content-Type: application/sdp', `Content-Base: ${uri}/`], sdp);
        else if (method === 'SETUP') {
          if (!/RTP\/AVP\/TCP/.test(transport)) reply('461 Unsupported Transport');
          else reply('200 OK', [`Transport: RTP/AVP/TCP;unicast;interleaved=0-1`, 'Session: 4242;timeout=60']);
        } else if (method === 'PLAY') { reply('200 OK', ['Session: 4242']); players.add(sock); }
        else if (method === 'GET_PARAMETER') reply('200 OK', ['Session: 4242']);
        else if (method === 'TEARDOWN') { reply('200 OK'); players.delete(sock); }
        else reply('405 Method Not Allowed');
      }
    });
  }

  async function start(): Promise<void> {
    udp = dgram.createSocket('udp4');
    await new Promise<void>((r) => udp!.bind(0, '127.0.0.1', () => r()));
    const rtpPort = udp.address().port;
    udp.on('message', (pkt) => {
      const head = Buffer.from([0x24, 0, pkt.length >> 8, pkt.length & 0xff]);
      for (const p of players) p.write(Buffer.concat([head, pkt]));
    });
    if (existsSync(sdpFile)) rmSync(sdpFile);
    publisher = spawn(ffmpegPath(), ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', clip, '-an', '-c', 'copy', '-f', 'rtp', '-sdp_file', sdpFile,
      `rtp://127.0.0.1:${rtpPort}?rtcpport=${rtpPort}`], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(sdpFile); i++) await new Promise((r) => setTimeout(r, 50));
    // The RTP SDP names no control URL; the client SETUPs the one given here.
    sdp = readFileSync(sdpFile, 'utf8').replace(/\r?\n/g, '\r\n').replace(/(m=video[^\r\n]*\r\n)/, '$1a=control:streamid=0\r\n');
    tcp = net.createServer(handle);
    await new Promise<void>((r) => tcp!.listen(rtspPort, '127.0.0.1', () => r()));
    rtspPort = (tcp.address() as net.AddressInfo).port;
  }

  async function stop(): Promise<void> {
    publisher?.kill('SIGKILL');
    publisher = null;
    for (const s of sockets) s.destroy();
    players.clear();
    udp?.close();
    udp = null;
    if (tcp) await new Promise<void>((r) => tcp!.close(() => r()));
    tcp = null;
  }

  await start();
  return { get url() { return `rtsp://127.0.0.1:${rtspPort}/live`; }, requests, start, stop };
}
