// The JavaScript Frame object: one sampled picture in native memory, with async preprocess (and,
// in FFmpeg builds, JPEG/PNG encode) that run on the libuv pool and never copy the picture into
// JavaScript. Built with or without FFmpeg.
#pragma once
#include <napi.h>
#include "picture.h"

namespace retinad {

class FrameWrap : public Napi::ObjectWrap<FrameWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::Object New(Napi::Env env, FrameData fd);
  explicit FrameWrap(const Napi::CallbackInfo& info);
  /** The picture (null once released). */
  PicturePtr picture() const { return fd_.pic; }

 private:
  Napi::Value Preprocess(const Napi::CallbackInfo& info);
  Napi::Value Planes(const Napi::CallbackInfo& info);
  Napi::Value Release(const Napi::CallbackInfo& info);
  static Napi::Value Create(const Napi::CallbackInfo& info);
#ifdef RETINAD_HAVE_FFMPEG
  Napi::Value Encode(const Napi::CallbackInfo& info);
  static Napi::Value DecodeImage(const Napi::CallbackInfo& info);
#endif
  bool Alive(Napi::Env env);

  FrameData fd_;
};

}  // namespace retinad
