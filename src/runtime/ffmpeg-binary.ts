/** Where the ffmpeg binary is: `RETINAD_FFMPEG`, else the one `@ffmpeg-installer/ffmpeg` ships. */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';

const require = createRequire(import.meta.url);
let cached: string | undefined;

/** Absolute path of the ffmpeg binary used by the pipe backend and the demo. */
export function ffmpegPath(): string {
  if (cached) return cached;
  const fromEnv = process.env.RETINAD_FFMPEG;
  if (fromEnv && existsSync(fromEnv)) return (cached = fromEnv);
  const installer = require('@ffmpeg-installer/ffmpeg') as { path: string };
  return (cached = installer.path);
}
