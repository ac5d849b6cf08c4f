#pragma once
#include <napi.h>
namespace retinad {
#ifdef RETINAD_HAVE_FFMPEG
/** Adds Decoder and Frame to the addon's exports. */
void InitDecoder(Napi::Env env, Napi::Object exports);
#endif
}  // namespace retinad
