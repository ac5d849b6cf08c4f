/**
 * Which decoder backend this process uses, and why: reported in TotalResource ExtendInfo and
 * the log, so an operator can see it on a running executor.
 */
import { loadNative } from './media/native.ts';
import { chooseBackend } from './media/frame-source.ts';

/** The addon's build info, or null (with the reason) when it is not built or fails to load. */
export function nativeBuildInfo() {
  const { addon, error } = loadNative();
  return { info: addon ? addon.buildInfo() : null, error };
}

/** What ExtendInfo.DecoderBackend says. */
export function decoderBackendInfo(): { Active: string; Reason: string; NativeAddon: string; FFmpegLibs: string | null } {
  const n = nativeBuildInfo();
  let active: string;
  let reason: string;
  try {
    ({ backend: active, reason } = chooseBackend());
  } catch (err) {
    active = 'none';
    reason = (err as Error).message;
  }
  return {
    Active: active,
    Reason: reason,
    NativeAddon: n.info ? `built (napi ${n.info.napiVersion})` : `not loaded: ${n.error ?? 'unknown'}`,
    FFmpegLibs: n.info?.ffmpeg ? `libavcodec ${n.info.ffmpeg.avcodec}` : null,
  };
}
