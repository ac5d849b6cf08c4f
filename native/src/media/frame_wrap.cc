#include "frame_wrap.h"
#ifdef RETINAD_HAVE_FFMPEG
#include "../preprocess/preprocess.h"

namespace retinad {

static Napi::FunctionReference* g_frame_ctor = nullptr;

Napi::Function FrameWrap::Init(Napi::Env env) {
  Napi::Function f = DefineClass(env, "Frame", {
    InstanceMethod<&FrameWrap::Encode>("encode"),
    InstanceMethod<&FrameWrap::Preprocess>("preprocess"),
    InstanceMethod<&FrameWrap::Planes>("planes"),
    InstanceMethod<&FrameWrap::Release>("release"),
    StaticMethod<&FrameWrap::Create>("create"),
    StaticMethod<&FrameWrap::DecodeImage>("decodeImage"),
  });
  g_frame_ctor = new Napi::FunctionReference(Napi::Persistent(f));
  return f;
}

Napi::Object FrameWrap::New(Napi::Env env, DecodedFrame df) {
  auto* holder = new DecodedFrame(std::move(df));
  return g_frame_ctor->New({Napi::External<DecodedFrame>::New(env, holder)});
}

FrameWrap::FrameWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FrameWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsExternal()) {
    Napi::TypeError::New(env, "Frame objects come from a Decoder or Frame.create()").ThrowAsJavaScriptException();
    return;
  }
  DecodedFrame* holder = info[0].As<Napi::External<DecodedFrame>>().Data();
  df_ = std::move(*holder);
  delete holder;
  Napi::Object self = info.This().As<Napi::Object>();
  self.Set("width", df_.frame->width);
  self.Set("height", df_.frame->height);
  self.Set("ptsMs", df_.pts_ms);
  self.Set("wallMs", df_.wall_ms);
  self.Set("index", (double)df_.index);
  self.Set("keyframe", df_.keyframe);
  const char* name = av_get_pix_fmt_name(static_cast<AVPixelFormat>(df_.frame->format));
  self.Set("format", name ? name : "unknown");
  // Tell V8 about the native pixels so it collects frames promptly.
  Napi::MemoryManagement::AdjustExternalMemory(env, (int64_t)df_.frame->width * df_.frame->height * 3 / 2);
}

bool FrameWrap::Alive(Napi::Env env) {
  if (df_.frame) return true;
  Napi::Error::New(env, "frame was released").ThrowAsJavaScriptException();
  return false;
}

namespace {

Rect ReadRect(const Napi::Object& o) {
  Rect r;
  r.x = o.Get("x").ToNumber().Int32Value();
  r.y = o.Get("y").ToNumber().Int32Value();
  r.w = o.Get("width").ToNumber().Int32Value();
  r.h = o.Get("height").ToNumber().Int32Value();
  return r;
}

class EncodeWorker : public Napi::AsyncWorker {
 public:
  EncodeWorker(Napi::Env env, FramePtr f, bool png, int q, bool has_crop, Rect crop)
      : Napi::AsyncWorker(env), d_(Napi::Promise::Deferred::New(env)), f_(std::move(f)), png_(png), q_(q), has_crop_(has_crop), crop_(crop) {}
  Napi::Promise Promise() { return d_.Promise(); }
  void Execute() override {
    if (!EncodeImage(f_.get(), png_, q_, has_crop_ ? &crop_ : nullptr, &out_, &err_)) SetError(err_);
  }
  void OnOK() override { d_.Resolve(Napi::Buffer<char>::Copy(Env(), out_.data(), out_.size())); }
  void OnError(const Napi::Error& e) override { d_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred d_;
  FramePtr f_;
  bool png_;
  int q_;
  bool has_crop_;
  Rect crop_;
  std::string out_, err_;
};

class PreprocessWorker : public Napi::AsyncWorker {
 public:
  PreprocessWorker(Napi::Env env, FramePtr f, PreprocessSpec s, Napi::Object buf, uint8_t* data, size_t len)
      : Napi::AsyncWorker(env), d_(Napi::Promise::Deferred::New(env)), f_(std::move(f)), s_(s), ref_(Napi::Persistent(buf)), data_(data), len_(len) {}
  Napi::Promise Promise() { return d_.Promise(); }
  void Execute() override {
    std::string err;
    if (!retinad::Preprocess(f_.get(), s_, data_, len_, &res_, &err)) SetError(err);
  }
  void OnOK() override {
    Napi::Object o = Napi::Object::New(Env());
    o.Set("scaleX", res_.scale_x);
    o.Set("scaleY", res_.scale_y);
    o.Set("padX", res_.pad_x);
    o.Set("padY", res_.pad_y);
    o.Set("contentWidth", res_.content_w);
    o.Set("contentHeight", res_.content_h);
    d_.Resolve(o);
  }
  void OnError(const Napi::Error& e) override { d_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred d_;
  FramePtr f_;
  PreprocessSpec s_;
  Napi::ObjectReference ref_;  // keeps the caller's buffer alive while a pool thread writes it
  uint8_t* data_;
  size_t len_;
  PreprocessResult res_;
};

}  // namespace

// encode(format: 'jpeg'|'png', quality: number, crop?: {x,y,width,height}) → Promise<Buffer>
Napi::Value FrameWrap::Encode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Alive(env)) return env.Undefined();
  const std::string fmt = info[0].As<Napi::String>().Utf8Value();
  const int q = info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 90;
  const bool has_crop = info.Length() > 2 && info[2].IsObject();
  Rect crop = has_crop ? ReadRect(info[2].As<Napi::Object>()) : Rect{};
  auto* w = new EncodeWorker(env, df_.frame, fmt == "png", q, has_crop, crop);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// preprocess(spec, out: ArrayBuffer | SharedArrayBuffer | TypedArray) → Promise<{scaleX, scaleY, padX, padY, …}>
Napi::Value FrameWrap::Preprocess(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Alive(env)) return env.Undefined();
  Napi::Object spec = info[0].As<Napi::Object>();
  PreprocessSpec s;
  s.width = spec.Get("width").ToNumber().Int32Value();
  s.height = spec.Get("height").ToNumber().Int32Value();
  s.letterbox = spec.Get("resize").ToString().Utf8Value() != "stretch";
  s.nchw = spec.Get("layout").ToString().Utf8Value() != "nhwc";
  s.f32 = spec.Get("dtype").ToString().Utf8Value() != "uint8";
  s.bgr = spec.Get("channels").ToString().Utf8Value() == "bgr";
  s.scale = spec.Get("scale").ToNumber().FloatValue();
  s.pad = spec.Get("pad").ToNumber().Int32Value();
  Napi::Array mean = spec.Get("mean").As<Napi::Array>(), stdv = spec.Get("std").As<Napi::Array>();
  for (uint32_t i = 0; i < 3; i++) {
    s.mean[i] = mean.Get(i).ToNumber().FloatValue();
    s.stdv[i] = stdv.Get(i).ToNumber().FloatValue();
  }
  Napi::Value crop = spec.Get("crop");
  if (crop.IsObject()) {
    s.has_crop = true;
    s.crop = ReadRect(crop.As<Napi::Object>());
  }
  Napi::Value out = info[1];
  uint8_t* data = nullptr;
  size_t len = 0;
  Napi::Object holder;
  if (out.IsTypedArray()) {
    // napi_get_typedarray_info yields the data pointer also for views over a SharedArrayBuffer,
    // which is how a tensor is handed to a worker without a copy.
    napi_typedarray_type type;
    size_t length = 0, offset = 0;
    void* ptr = nullptr;
    napi_value ab;
    if (napi_get_typedarray_info(env, out, &type, &length, &ptr, &ab, &offset) != napi_ok) {
      Napi::TypeError::New(env, "out: cannot read the typed array").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::TypedArray ta = out.As<Napi::TypedArray>();
    data = static_cast<uint8_t*>(ptr);
    len = ta.ByteLength();
    holder = ta;
  } else if (out.IsArrayBuffer()) {
    Napi::ArrayBuffer buf = out.As<Napi::ArrayBuffer>();
    data = static_cast<uint8_t*>(buf.Data());
    len = buf.ByteLength();
    holder = buf;
  } else {
    Napi::TypeError::New(env, "out: must be an ArrayBuffer or a TypedArray (a Float32Array/Uint8Array view over a SharedArrayBuffer works)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* w = new PreprocessWorker(env, df_.frame, s, holder, data, len);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// planes() → { format, width, height, planes: [{ data: Buffer, linesize }] } (copies; tests and reference checks)
Napi::Value FrameWrap::Planes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Alive(env)) return env.Undefined();
  const AVFrame* f = df_.frame.get();
  auto fmt = static_cast<AVPixelFormat>(f->format);
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(fmt);
  Napi::Array arr = Napi::Array::New(env);
  const int n = av_pix_fmt_count_planes(fmt);
  for (int p = 0; p < n; p++) {
    int h = (p == 1 || p == 2) ? AV_CEIL_RSHIFT(f->height, d->log2_chroma_h) : f->height;
    Napi::Object o = Napi::Object::New(env);
    o.Set("data", Napi::Buffer<uint8_t>::Copy(env, f->data[p], (size_t)f->linesize[p] * h));
    o.Set("linesize", f->linesize[p]);
    arr.Set(p, o);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("format", av_get_pix_fmt_name(fmt));
  out.Set("width", f->width);
  out.Set("height", f->height);
  out.Set("fullRange", f->color_range == AVCOL_RANGE_JPEG || fmt == AV_PIX_FMT_YUVJ420P);
  out.Set("planes", arr);
  return out;
}

Napi::Value FrameWrap::Release(const Napi::CallbackInfo& info) {
  if (df_.frame) {
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), -(int64_t)df_.frame->width * df_.frame->height * 3 / 2);
    df_.frame.reset();
  }
  return info.Env().Undefined();
}

// Frame.create(width, height, format 'yuv420p'|'rgb24'|'nv12', data: Buffer, fullRange?) → Frame (copies data)
Napi::Value FrameWrap::Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int w = info[0].ToNumber().Int32Value(), h = info[1].ToNumber().Int32Value();
  const std::string name = info[2].ToString().Utf8Value();
  Napi::Buffer<uint8_t> buf = info[3].As<Napi::Buffer<uint8_t>>();
  const bool full = info.Length() > 4 && info[4].ToBoolean().Value();
  AVPixelFormat fmt = av_get_pix_fmt(name.c_str());
  if (fmt != AV_PIX_FMT_YUV420P && fmt != AV_PIX_FMT_RGB24 && fmt != AV_PIX_FMT_NV12) {
    Napi::TypeError::New(env, "format must be yuv420p, nv12 or rgb24").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const int need = av_image_get_buffer_size(fmt, w, h, 1);
  if (w <= 0 || h <= 0 || need < 0 || buf.Length() < (size_t)need) {
    Napi::RangeError::New(env, "data is smaller than a " + std::to_string(w) + "x" + std::to_string(h) + " " + name + " image (" + std::to_string(need) + " bytes)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  DecodedFrame df;
  df.frame = MakeFrame();
  df.frame->format = fmt;
  df.frame->width = w;
  df.frame->height = h;
  df.frame->color_range = full ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
  if (av_frame_get_buffer(df.frame.get(), 0) < 0) {
    Napi::Error::New(env, "out of memory").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const uint8_t* src[4];
  int sls[4];
  av_image_fill_arrays(const_cast<uint8_t**>(src), sls, buf.Data(), fmt, w, h, 1);
  av_image_copy(df.frame->data, df.frame->linesize, src, sls, fmt, w, h);
  return New(env, std::move(df));
}

namespace {

// Decodes a JPEG or PNG held in memory into a frame (crops another node sent us).
class DecodeImageWorker : public Napi::AsyncWorker {
 public:
  DecodeImageWorker(Napi::Env env, Napi::Buffer<uint8_t> buf)
      : Napi::AsyncWorker(env), d_(Napi::Promise::Deferred::New(env)), ref_(Napi::Persistent(buf)), data_(buf.Data()), len_(buf.Length()) {}
  Napi::Promise Promise() { return d_.Promise(); }
  void Execute() override {
    const bool png = len_ >= 8 && data_[0] == 0x89 && data_[1] == 'P' && data_[2] == 'N' && data_[3] == 'G';
    const bool jpeg = len_ >= 3 && data_[0] == 0xFF && data_[1] == 0xD8;
    if (!png && !jpeg) { SetError("image: not a JPEG or PNG"); return; }
    const AVCodec* codec = avcodec_find_decoder(png ? AV_CODEC_ID_PNG : AV_CODEC_ID_MJPEG);
    if (!codec) { SetError("image: no decoder in this FFmpeg"); return; }
    AVCodecContext* ctx = avcodec_alloc_context3(codec);
    AVPacket* pkt = av_packet_alloc();
    AVFrame* f = av_frame_alloc();
    std::string err;
    if (avcodec_open2(ctx, codec, nullptr) < 0) err = "image: cannot open decoder";
    if (err.empty()) {
      pkt->data = const_cast<uint8_t*>(data_);
      pkt->size = (int)len_;
      int r = avcodec_send_packet(ctx, pkt);
      if (r >= 0) r = avcodec_receive_frame(ctx, f);
      if (r < 0) err = "image: " + AvError(r);
    }
    if (err.empty()) {
      FramePtr c = ToCanonical(f, false, &err);
      if (c) out_.frame = c;
    }
    pkt->data = nullptr;
    pkt->size = 0;
    av_packet_free(&pkt);
    av_frame_free(&f);
    avcodec_free_context(&ctx);
    if (!err.empty()) SetError(err);
  }
  void OnOK() override { d_.Resolve(FrameWrap::New(Env(), std::move(out_))); }
  void OnError(const Napi::Error& e) override { d_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred d_;
  Napi::Reference<Napi::Buffer<uint8_t>> ref_;
  const uint8_t* data_;
  size_t len_;
  DecodedFrame out_;
};

}  // namespace

// Frame.decodeImage(buffer: Buffer) → Promise<Frame>
Napi::Value FrameWrap::DecodeImage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsBuffer()) {
    Napi::TypeError::New(env, "decodeImage(buffer): a Buffer is required").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* w = new DecodeImageWorker(env, info[0].As<Napi::Buffer<uint8_t>>());
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace retinad
#endif
