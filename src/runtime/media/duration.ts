/**
 * How long a local file runs (9.9 Progress for files: frames done over frames expected). FFmpeg
 * prints the container's duration when it opens the file; only file:// sources are probed (a
 * network source is live or its length is not ours to fetch twice).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ffmpegPath } from '../ffmpeg-binary.ts';

/** Duration in ms of the file `url` names, or undefined when it is not a file or has none. */
export function probeDurationMs(url: string): Promise<number | undefined> {
  if (!url.startsWith('file:')) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    let err = '';
    const p = spawn(ffmpegPath(), ['-hide_banner', '-nostdin', '-i', fileURLToPath(url)], { stdio: ['ignore', 'ignore', 'pipe'] });
    p.stderr.on('data', (c: Buffer) => { if (err.length < 65536) err += c.toString(); });
    p.on('error', () => resolve(undefined));
    p.on('close', () => {
      const m = /Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)/.exec(err);
      resolve(m ? Math.round(((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000) : undefined);
    });
  });
}
