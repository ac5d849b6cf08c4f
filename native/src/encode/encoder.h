#pragma once
#include <napi.h>
namespace retinad {
#ifdef RETINAD_HAVE_FFMPEG
/** Adds Encoder to the exports. */
void InitEncoder(Napi::Env env, Napi::Object exports);
#endif
}  // namespace retinad
