// The JavaScript Frame object: one sampled picture in native memory, with async encode and
// preprocess that run on the libuv pool and never copy the picture into JavaScript.
#pragma once
#ifdef RETINAD_HAVE_FFMPEG
#include <napi.h>
#include "av.h"

namespace retinad {

class FrameWrap : public Napi::ObjectWrap<FrameWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::Object New(Napi::Env env, DecodedFrame df);
  explicit FrameWrap(const Napi::CallbackInfo& info);
  /** The picture (null once released). */
  FramePtr frame() const { return df_.frame; }

 private:
  Napi::Value Encode(const Napi::CallbackInfo& info);
  Napi::Value Preprocess(const Napi::CallbackInfo& info);
  Napi::Value Planes(const Napi::CallbackInfo& info);
  Napi::Value Release(const Napi::CallbackInfo& info);
  static Napi::Value Create(const Napi::CallbackInfo& info);
  static Napi::Value DecodeImage(const Napi::CallbackInfo& info);
  bool Alive(Napi::Env env);

  DecodedFrame df_;
};

}  // namespace retinad
#endif
