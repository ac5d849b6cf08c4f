// Entry point of the retinad native core. Each room (decode/, preprocess/, probe/) adds its
// exports here; this file only reports what the build contains so the TypeScript side can
// choose a backend without guessing.
#include <napi.h>
#include <string>
#include <cstdlib>
#include "decode/decoder.h"
#include "encode/encoder.h"
#include "probe/probe.h"
#include "media/frame_wrap.h"

#ifdef RETINAD_HAVE_FFMPEG
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libswscale/swscale.h>
}
#endif

namespace {

std::string VersionString(unsigned v) {
  return std::to_string(v >> 16) + "." + std::to_string((v >> 8) & 0xff) + "." + std::to_string(v & 0xff);
}

// buildInfo() → { addonVersion, napiVersion, ffmpeg: { avcodec, avformat, swscale, avutil } | null }
Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("addonVersion", "0.1.0");
  out.Set("napiVersion", NAPI_VERSION);
  out.Set("compiler", __VERSION__);
#ifdef RETINAD_HAVE_FFMPEG
  Napi::Object ff = Napi::Object::New(env);
  ff.Set("avcodec", VersionString(avcodec_version()));
  ff.Set("avformat", VersionString(avformat_version()));
  ff.Set("avutil", VersionString(avutil_version()));
  ff.Set("swscale", VersionString(swscale_version()));
  out.Set("ffmpeg", ff);
#else
  out.Set("ffmpeg", env.Null());
#endif
  return out;
}

#ifdef RETINAD_HAVE_FFMPEG
// FFmpeg writes to stderr by default; a daemon's stderr is its JSON log, so only fatal
// messages pass unless RETINAD_FFMPEG_LOG names a level (error, warning, info, debug).
void QuietFFmpeg() {
  const char* lv = getenv("RETINAD_FFMPEG_LOG");
  int level = AV_LOG_FATAL;
  if (lv) {
    std::string s(lv);
    level = s == "error" ? AV_LOG_ERROR : s == "warning" ? AV_LOG_WARNING : s == "info" ? AV_LOG_INFO : s == "debug" ? AV_LOG_DEBUG : AV_LOG_FATAL;
  }
  av_log_set_level(level);
}
#endif

Napi::Object Init(Napi::Env env, Napi::Object exports) {
#ifdef RETINAD_HAVE_FFMPEG
  QuietFFmpeg();
#endif
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfo, "buildInfo"));
  retinad::InitProbe(env, exports);
  // Frames and preprocessing exist in every build; decoding and encoding need FFmpeg.
  exports.Set("Frame", retinad::FrameWrap::Init(env));
#ifdef RETINAD_HAVE_FFMPEG
  retinad::InitDecoder(env, exports);
  retinad::InitEncoder(env, exports);
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(retinad_native, Init)
