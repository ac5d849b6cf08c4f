/**
 * `retinad demo`: the entry the CLI imports (the demo itself is in src/demo/), and the plain
 * test-pattern clip that tests and benches use.
 */
import { spawnSync } from 'node:child_process';
import { ffmpegPath } from './runtime/ffmpeg-binary.ts';

export { runDemo, runDemoDetailed, type DemoOptions, type DemoOutcome } from './demo/run.ts';

/** Makes a short 640×360 test clip with the bundled ffmpeg. */
export function makeSampleClip(file: string, pattern = 'testsrc', seconds = 10, size = '640x360'): void {
  const r = spawnSync(ffmpegPath(), ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `${pattern}=size=${size}:rate=25`,
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffmpeg could not make the sample clip: ${r.stderr || r.error?.message}`);
}
