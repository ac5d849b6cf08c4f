// Entry point of the retinad native core. Each room (decode/, preprocess/, probe/) adds its
// exports here; this file only reports what the build contains so the TypeScript side can
// choose a backend without guessing.
#include <napi.h>
#include <string>

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

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfo, "buildInfo"));
  return exports;
}

}  // namespace

NODE_API_MODULE(retinad_native, Init)
