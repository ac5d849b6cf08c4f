/**
 * Which decoder backend this process uses: the native addon when it was built with FFmpeg,
 * else the ffmpeg binary over a pipe. Reported in TotalResource ExtendInfo and the log.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeBuildInfo {
  addonVersion: string;
  napiVersion: number;
  compiler: string;
  ffmpeg: { avcodec: string; avformat: string; avutil: string; swscale: string } | null;
}

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
let loaded: { info: NativeBuildInfo | null; error?: string } | undefined;

/** The addon's build info, or null (with the reason) when it is not built or fails to load. */
export function nativeBuildInfo(): { info: NativeBuildInfo | null; error?: string } {
  if (loaded) return loaded;
  try {
    const addon = require(path.join(root, 'native', 'build', 'Release', 'retinad_native.node')) as { buildInfo(): NativeBuildInfo };
    loaded = { info: addon.buildInfo() };
  } catch (err) {
    loaded = { info: null, error: (err as Error).message.split('\n')[0] };
  }
  return loaded;
}

/** What ExtendInfo.DecoderBackend says. The frame path uses the pipe backend until the native decoder lands. */
export function decoderBackendInfo(): { Active: string; NativeAddon: string; FFmpegLibs: string | null } {
  const n = nativeBuildInfo();
  return {
    Active: 'ffmpeg-pipe',
    NativeAddon: n.info ? `built (napi ${n.info.napiVersion})` : `not loaded: ${n.error ?? 'unknown'}`,
    FFmpegLibs: n.info?.ffmpeg ? `libavcodec ${n.info.ffmpeg.avcodec}` : null,
  };
}
