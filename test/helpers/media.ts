/** Clips and misbehaving servers for the media tests, all made here with the bundled ffmpeg. */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { ffmpegPath } from '../../src/runtime/ffmpeg-binary.ts';

/** Runs ffmpeg with `args`; throws with its stderr on failure. */
export function ff(args: string[]): void {
  const r = spawnSync(ffmpegPath(), ['-hide_banner', '-loglevel', 'error', '-y', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffmpeg ${args.join(' ')}: ${r.stderr}`);
}

/** A test pattern clip: `size` WxH, `seconds` long, 25 fps, encoded with `codec` args into `file`. */
export function clip(file: string, opts: { size?: string; seconds?: number; codec?: string[]; extra?: string[] } = {}): string {
  ff(['-f', 'lavfi', '-i', `testsrc2=size=${opts.size ?? '320x240'}:rate=25`, '-t', String(opts.seconds ?? 2),
    ...(opts.codec ?? ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p']), ...(opts.extra ?? []), file]);
  return file;
}

/** An HTTP server for a file with a misbehaviour: 'drop' closes after `afterBytes`, 'stall' goes silent there. */
export async function misbehavingServer(file: string, mode: 'drop' | 'stall', afterBytes: number): Promise<{ url: string; hits: () => number; close(): void }> {
  const data = readFileSync(file);
  let hits = 0;
  const sockets = new Set<net.Socket>();
  const srv = http.createServer((_req, res) => {
    hits++;
    res.writeHead(200, { 'content-type': 'video/mp2t' });
    res.write(data.subarray(0, afterBytes));
    if (mode === 'drop') setTimeout(() => res.socket?.destroy(), 50);
  });
  srv.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}/live.ts`,
    hits: () => hits,
    close: () => { for (const s of sockets) s.destroy(); srv.close(); },
  };
}

/** A TCP server that accepts connections and never says anything. */
export async function silentServer(): Promise<{ url: string; close(): void }> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => { sockets.add(s); s.on('error', () => undefined); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}/never`, close: () => { for (const s of sockets) s.destroy(); srv.close(); } };
}

/** Open file descriptors and threads of this process, and its RSS in MiB. */
export function processCounters(): { fds: number; threads: number; rssMiB: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const threads = Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  const fds = readdirSync('/proc/self/fd').length;
  return { fds, threads, rssMiB: process.memoryUsage().rss / 2 ** 20 };
}
