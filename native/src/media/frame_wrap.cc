#include "frame_wrap.h"
#include <cstring>
#include "../preprocess/preprocess.h"
#ifdef RETINAD_HAVE_FFMPEG
#include "av_picture.h"
#endif

namespace retinad {

static Napi::FunctionReference* g_frame_ctor = nullptr;

Napi::Function FrameWrap::Init(Napi::Env env) {
  Napi::Function f = DefineClass(env, "Frame", {
    InstanceMethod<&FrameWrap::Preprocess>("preprocess"),
    InstanceMethod<&FrameWrap::Planes>("planes"),
    InstanceMethod<&FrameWrap::Release>("release"),
    StaticMethod<&FrameWrap::Create>("create"),
#ifdef RETINAD_HAVE_FFMPEG
    InstanceMethod<&FrameWrap::Encode>("encode"),
    StaticMethod<&FrameWrap::DecodeImage>("decodeImage"),
#endif
  });
  g_frame_ctor = new Napi::FunctionReference(Napi::Persistent(f));
  return f;
}

Napi::Object FrameWrap::New(Napi::Env env, FrameData fd) {
  auto* holder = new FrameData(std::move(fd));
  return g_frame_ctor->New({Napi::External<FrameData>::New(env, holder)});
}

static int64_t PictureBytes(const Picture& p) { return (int64_t)PackedSize(p.fmt, p.width, p.height); }

FrameWrap::FrameWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FrameWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsExternal()) {
    Napi::TypeError::New(env, "Frame objects come from a Decoder or Frame.create()").ThrowAsJavaScriptException();
    return;
  }
  FrameData* holder = info[0].As<Napi::External<FrameData>>().Data();
  fd_ = std::move(*holder);
  delete holder;
  if (!fd_.pic) {
    Napi::Error::New(env, "frame has an unsupported pixel layout").ThrowAsJavaScriptException();
    return;
  }
  Napi::Object self = info.This().As<Napi::Object>();
  self.Set("width", fd_.pic->width);
  self.Set("height", fd_.pic->height);
  self.Set("ptsMs", fd_.pts_ms);
  self.Set("wallMs", fd_.wall_ms);
  self.Set("index", (double)fd_.index);
  self.Set("keyframe", fd_.keyframe);
  self.Set("format", PixFmtName(fd_.pic->fmt, fd_.pic->full_range));
  // Tell V8 about the native pixels so it collects frames promptly.
  Napi::MemoryManagement::AdjustExternalMemory(env, PictureBytes(*fd_.pic));
}

bool FrameWrap::Alive(Napi::Env env) {
  if (fd_.pic) return true;
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

class PreprocessWorker : public Napi::AsyncWorker {
 public:
  PreprocessWorker(Napi::Env env, PicturePtr f, PreprocessSpec s, Napi::Object buf, uint8_t* data, size_t len)
      : Napi::AsyncWorker(env), d_(Napi::Promise::Deferred::New(env)), f_(std::move(f)), s_(s), ref_(Napi::Persistent(buf)), data_(data), len_(len) {}
  Napi::Promise Promise() { return d_.Promise(); }
  void Execute() override {
    std::string err;
    if (!retinad::Preprocess(*f_, s_, data_, len_, &res_, &err)) SetError(err);
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
  PicturePtr f_;
  PreprocessSpec s_;
  Napi::ObjectReference ref_;  // keeps the caller's buffer alive while a pool thread writes it
  uint8_t* data_;
  size_t len_;
  PreprocessResult res_;
};

#ifdef RETINAD_HAVE_FFMPEG
class EncodeWorker : public Napi::AsyncWorker {
 public:
  EncodeWorker(Napi::Env env, PicturePtr f, bool png, int q, bool has_crop, Rect crop)
      : Napi::AsyncWorker(env), d_(Napi::Promise::Deferred::New(env)), f_(std::move(f)), png_(png), q_(q), has_crop_(has_crop), crop_(crop) {}
  Napi::Promise Promise() { return d_.Promise(); }
  void Execute() override {
    if (!EncodeImage(f_, png_, q_, has_crop_ ? &crop_ : nullptr, &out_, &err_)) SetError(err_);
  }
  void OnOK() override { d_.Resolve(Napi::Buffer<char>::Copy(Env(), out_.data(), out_.size())); }
  void OnError(const Napi::Error& e) override { d_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred d_;
  PicturePtr f_;
  bool png_;
  int q_;
  bool has_crop_;
  Rect crop_;
  std::string out_, err_;
};
#endif

}  // namespace

#ifdef RETINAD_HAVE_FFMPEG
// encode(format: 'jpeg'|'png', quality: number, crop?: {x,y,width,height}) → Promise<Buffer>
Napi::Value FrameWrap::Encode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Alive(env)) return env.Undefined();
  const std::string fmt = info[0].As<Napi::String>().Utf8Value();
  const int q = info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 90;
  const bool has_crop = info.Length() > 2 && info[2].IsObject();
  Rect crop = has_crop ? ReadRect(info[2].As<Napi::Object>()) : Rect{};
  auto* w = new EncodeWorker(env, fd_.pic, fmt == "png", q, has_crop, crop);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}
#endif

// preprocess(spec, out: ArrayBuffer | SharedArrayBuffer | TypedArray) → Promise<{scaleX, scaleY, padX, padY, …}>
Napi::Value FrameWrap::Preprocess(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Alive(env)) return env.Undefined();
  if (info.Length() < 2 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "preprocess(spec, out): spec must be an object").ThrowAsJavaScriptException();
    return env.Undefined();
  }
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
  Napi::Value mv = spec.Get("mean"), sv = spec.Get("std");
  if (!mv.IsArray() || !sv.IsArray()) {
    Napi::TypeError::New(env, "preprocess(spec): mean and std must be arrays of three numbers").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array mean = mv.As<Napi::Array>(), stdv = sv.As<Napi::Array>();
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
  auto* w = new PreprocessWorker(env, fd_.pic, s, holder, data, len);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// planes() → { format, width, height, fullRange, bt709, planes: [{ data: Buffer, linesize }] } (copies; tests and reference checks)
Napi::Value FrameWrap::Planes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Alive(env)) return env.Undefined();
  const Picture& f = *fd_.pic;
  Napi::Array arr = Napi::Array::New(env);
  for (int p = 0; p < f.Planes(); p++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("data", Napi::Buffer<uint8_t>::Copy(env, f.data[p], (size_t)f.linesize[p] * (f.PlaneRows(p) - 1) + f.PlaneRowBytes(p)));
    o.Set("linesize", f.linesize[p]);
    arr.Set(p, o);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("format", PixFmtName(f.fmt, f.full_range));
  out.Set("width", f.width);
  out.Set("height", f.height);
  out.Set("fullRange", f.full_range);
  out.Set("bt709", f.bt709);
  out.Set("planes", arr);
  return out;
}

Napi::Value FrameWrap::Release(const Napi::CallbackInfo& info) {
  if (fd_.pic) {
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), -PictureBytes(*fd_.pic));
    fd_.pic.reset();
  }
  return info.Env().Undefined();
}

// Frame.create(width, height, format 'yuv420p'|'yuvj420p'|'nv12'|'rgb24', data: Buffer|Uint8Array, fullRange?, bt709?, ptsMs?, index?) → Frame (copies data)
Napi::Value FrameWrap::Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsNumber() || !info[3].IsTypedArray()) {
    Napi::TypeError::New(env, "Frame.create(width, height, format, data: Uint8Array, fullRange?, bt709?)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const double wd = info[0].As<Napi::Number>().DoubleValue(), hd = info[1].As<Napi::Number>().DoubleValue();
  const std::string name = info[2].ToString().Utf8Value();
  PixFmt fmt;
  bool full = info.Length() > 4 && info[4].ToBoolean().Value();
  if (!ParsePixFmt(name, &fmt, &full)) {
    Napi::TypeError::New(env, "format must be yuv420p, yuvj420p, nv12 or rgb24 (got \"" + name + "\")").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (!(wd >= 1 && wd <= 16384 && hd >= 1 && hd <= 16384) || wd != (int)wd || hd != (int)hd) {
    Napi::RangeError::New(env, "width and height must be integers 1..16384").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const int w = (int)wd, h = (int)hd;
  Napi::TypedArray ta = info[3].As<Napi::TypedArray>();
  const size_t need = PackedSize(fmt, w, h);
  if (ta.ByteLength() < need) {
    Napi::RangeError::New(env, "data is smaller than a " + std::to_string(w) + "x" + std::to_string(h) + " " + name + " image (" + std::to_string(need) + " bytes)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const uint8_t* src = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  auto pic = NewPicture(fmt, w, h, full);
  pic->bt709 = info.Length() > 5 && info[5].ToBoolean().Value();
  size_t off = 0;
  for (int p = 0; p < pic->Planes(); p++) {
    const size_t bytes = (size_t)pic->linesize[p] * pic->PlaneRows(p);
    std::memcpy(pic->data[p], src + off, bytes);
    off += bytes;
  }
  FrameData fd;
  fd.pic = pic;
  if (info.Length() > 6 && info[6].IsNumber()) fd.pts_ms = info[6].As<Napi::Number>().DoubleValue();
  if (info.Length() > 7 && info[7].IsNumber()) fd.index = (int64_t)info[7].As<Napi::Number>().DoubleValue();
  return New(env, std::move(fd));
}

#ifdef RETINAD_HAVE_FFMPEG
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
      if (c) out_ = c;
    }
    pkt->data = nullptr;
    pkt->size = 0;
    av_packet_free(&pkt);
    av_frame_free(&f);
    avcodec_free_context(&ctx);
    if (!err.empty()) SetError(err);
  }
  void OnOK() override {
    FrameData fd;
    fd.pic = PictureFromAv(out_);
    if (!fd.pic) { d_.Reject(Napi::Error::New(Env(), "image: unsupported pixel layout").Value()); return; }
    d_.Resolve(FrameWrap::New(Env(), std::move(fd)));
  }
  void OnError(const Napi::Error& e) override { d_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred d_;
  Napi::Reference<Napi::Buffer<uint8_t>> ref_;
  const uint8_t* data_;
  size_t len_;
  FramePtr out_;
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

#endif

}  // namespace retinad
