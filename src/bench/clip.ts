/** The plugin benchmark's input: a 1080p25 H.264 clip with text on it, made by the bundled ffmpeg. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ffmpegPath } from '../runtime/ffmpeg-binary.ts';

/**
 * Creates (once) `seconds` of 1080p25 colour bars with two lines of text (one a frame counter),
 * for OCR-like plugins to find. The picture's layout is the same in every frame, so the work per
 * frame (boxes found, crops recognised) does not depend on which part of the clip a stream reads.
 */
export function benchClip(dir: string, seconds: number): string {
  const file = path.join(dir, `bench-1080p25-${seconds}s.mp4`);
  if (existsSync(file)) return file;
  // The font comes from an npm dependency: no system fonts on a minimal box.
  const font = createRequire(import.meta.url).resolve('dejavu-fonts-ttf/ttf/DejaVuSans.ttf');
  const text = (t: string, y: number) => `drawtext=fontfile=${font}:text='${t}':fontsize=96:fontcolor=white:box=1:boxcolor=black:boxborderw=16:x=160:y=${y}`;
  const r = spawnSync(ffmpegPath(), ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'smptehdbars=size=1920x1080:rate=25', '-t', String(seconds),
    '-vf', `${text('RETINA 2026 bench', 160)},${text('FRAME %{frame_num}', 760)}`,
    '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', file]);
  if (r.status !== 0) throw new Error(`ffmpeg could not make the bench clip: ${r.stderr.toString().slice(-300)}`);
  return file;
}
