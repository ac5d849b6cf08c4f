/** An HTTP server that serves a video file slowly, so a task stays running long enough to act on it. */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { ffmpegPath } from '../../src/runtime/ffmpeg-binary.ts';

/**
 * Makes an all-intra 10 s clip and serves it over `seconds`: MPEG-TS by default (playable from
 * any byte, but a stream that states no duration), or with `container: 'mp4'` an MP4 whose index
 * comes first, so it states its duration when opened (a file served over HTTP, not a live
 * stream). The picture is `lavfi` (a test pattern by default) with the filters `vf`, if any.
 */
export async function slowSource(file: string, seconds = 8, opts: { lavfi?: string; vf?: string; container?: 'mpegts' | 'mp4' } = {}): Promise<{ url: string; close(): void }> {
  const format = opts.container === 'mp4' ? ['-movflags', '+faststart', '-f', 'mp4'] : ['-f', 'mpegts'];
  const mk = spawnSync(ffmpegPath(), ['-v', 'error', '-y', '-f', 'lavfi', '-i', opts.lavfi ?? 'testsrc=size=640x360:rate=25', '-t', '10', ...(opts.vf ? ['-vf', opts.vf] : []),
    '-c:v', 'libx264', '-g', '1', '-crf', '18', '-pix_fmt', 'yuv420p', ...format, file]);
  if (mk.status !== 0) throw new Error('ffmpeg could not make the clip');
  const data = readFileSync(file);
  const srv = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': opts.container === 'mp4' ? 'video/mp4' : 'video/mp2t', 'content-length': data.length });
    let off = 0;
    const steps = seconds * 10;
    const step = Math.ceil(data.length / steps);
    const iv = setInterval(() => {
      if (off >= data.length || res.destroyed) { clearInterval(iv); res.end(); return; }
      res.write(data.subarray(off, off + step));
      off += step;
    }, 100);
    req.on('close', () => clearInterval(iv));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(srv.address() as { port: number }).port}/clip.${opts.container === 'mp4' ? 'mp4' : 'ts'}`, close: () => { srv.closeAllConnections(); srv.close(); } };
}
