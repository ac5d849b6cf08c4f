// The JavaScript Decoder: owns a DecodeThread and hands its frames to JavaScript one per
// read() through a thread-safe function, so no JavaScript runs per packet.
#include "decoder.h"
#ifdef RETINAD_HAVE_FFMPEG
#include "decode_thread.h"
#include "../media/frame_wrap.h"
#include "../media/av_picture.h"
#include <optional>

namespace retinad {

class DecoderWrap : public Napi::ObjectWrap<DecoderWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Decoder", {
      InstanceMethod<&DecoderWrap::Start>("start"),
      InstanceMethod<&DecoderWrap::Read>("read"),
      InstanceMethod<&DecoderWrap::Close>("close"),
      InstanceMethod<&DecoderWrap::GetStats>("stats"),
    });
  }

  explicit DecoderWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DecoderWrap>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) {
      Napi::TypeError::New(env, "Decoder(options): options object required").ThrowAsJavaScriptException();
      return;
    }
    Napi::Object o = info[0].As<Napi::Object>();
    auto str = [&](const char* k, std::string def) { Napi::Value v = o.Get(k); return v.IsString() ? v.As<Napi::String>().Utf8Value() : def; };
    auto num = [&](const char* k, double def) { Napi::Value v = o.Get(k); return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : def; };
    auto boo = [&](const char* k, bool def) { Napi::Value v = o.Get(k); return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : def; };
    opts_.url = str("url", "");
    opts_.input_format = str("inputFormat", "");
    opts_.fps = num("fps", 0);
    opts_.start_ms = num("startMs", 0);
    opts_.hwaccel = str("hwaccel", "auto");
    opts_.open_timeout_ms = (int)num("openTimeoutMs", 10000);
    opts_.read_timeout_ms = (int)num("readTimeoutMs", 10000);
    opts_.rtsp_transport = str("rtspTransport", "tcp");
    opts_.queue = std::max(1, (int)num("queue", 4));
    opts_.reconnect = boo("reconnect", false);
    opts_.max_reconnects = (int)num("maxReconnects", -1);
    opts_.initial_attempts = std::max(1, (int)num("initialAttempts", 3));
    opts_.backoff_max_ms = (int)num("backoffMaxMs", 10000);
    opts_.threads = (int)num("threads", 0);
    opts_.autorotate = boo("autorotate", true);
    opts_.protocol_whitelist = str("protocolWhitelist", "");
    opts_.http_proxy = str("httpProxy", "");
  }

  ~DecoderWrap() override { Shutdown(); }

 private:
  struct Shared {
    DecoderWrap* owner = nullptr;  // JS thread only; null once the wrapper is gone
  };

  void Shutdown() {
    if (thread_) {
      thread_->Stop();
      last_ = thread_->Stats();  // stats() stays answerable after close
      thread_.reset();
    }
    if (shared_) shared_->owner = nullptr;
    if (tsfn_) {
      tsfn_.Release();
      tsfn_ = Napi::ThreadSafeFunction();
    }
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (thread_) return env.Undefined();
    shared_ = std::make_shared<Shared>();
    shared_->owner = this;
    tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}), "retinad-decoder", 0, 1);
    tsfn_.Unref(env);
    thread_ = std::make_unique<DecodeThread>(opts_);
    auto shared = shared_;
    Napi::ThreadSafeFunction tsfn = tsfn_;
    thread_->Start([shared, tsfn]() mutable {
      auto* keep = new std::shared_ptr<Shared>(shared);
      napi_status st = tsfn.NonBlockingCall(keep, [](Napi::Env env, Napi::Function, std::shared_ptr<Shared>* s) {
        if ((*s)->owner) (*s)->owner->Pump(env);
        delete s;
      });
      if (st != napi_ok) delete keep;
    });
    return env.Undefined();
  }

  // Resolves the pending read() with a frame, null at the end, or the decoder's error.
  void Pump(Napi::Env env) {
    if (!pending_ || !thread_) return;
    DecodedFrame df;
    if (thread_->Pop(&df)) {
      auto d = std::move(*pending_);
      pending_.reset();
      tsfn_.Unref(env);
      d.Resolve(FrameWrap::New(env, FromDecoded(std::move(df))));
      return;
    }
    if (thread_->Finished()) {
      auto d = std::move(*pending_);
      pending_.reset();
      tsfn_.Unref(env);
      std::string kind, msg;
      thread_->Error(&kind, &msg);
      if (kind.empty()) {
        d.Resolve(env.Null());
      } else {
        Napi::Error e = Napi::Error::New(env, msg);
        e.Set("kind", kind);
        d.Reject(e.Value());
      }
    }
  }

  Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto d = Napi::Promise::Deferred::New(env);
    if (!thread_) {
      d.Reject(Napi::Error::New(env, "decoder is not started or already closed").Value());
      return d.Promise();
    }
    if (pending_) {
      d.Reject(Napi::Error::New(env, "read() is already pending on this decoder").Value());
      return d.Promise();
    }
    pending_.emplace(d);
    tsfn_.Ref(env);  // keep the process alive while someone waits for a frame
    Pump(env);
    return d.Promise();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (thread_) thread_->Stop();
    if (pending_) {
      auto d = std::move(*pending_);
      pending_.reset();
      d.Resolve(env.Null());
    }
    Shutdown();
    return env.Undefined();
  }

  Napi::Value GetStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    DecoderStats s = thread_ ? thread_->Stats() : last_;
    if (thread_) last_ = s;
    o.Set("packets", (double)s.packets);
    o.Set("framesDecoded", (double)s.frames_decoded);
    o.Set("framesSampled", (double)s.frames_sampled);
    o.Set("packetsSkippable", (double)s.packets_skippable);
    o.Set("reconnects", (double)s.reconnects);
    o.Set("width", s.width);
    o.Set("height", s.height);
    o.Set("rotation", s.rotation);
    o.Set("sourceFps", s.src_fps);
    o.Set("durationMs", s.duration_ms);
    o.Set("codec", s.codec);
    o.Set("backend", s.backend);
    return o;
  }

  DecoderOptions opts_;
  std::unique_ptr<DecodeThread> thread_;
  std::shared_ptr<Shared> shared_;
  Napi::ThreadSafeFunction tsfn_;
  std::optional<Napi::Promise::Deferred> pending_;
  DecoderStats last_;
};

// codecs() → { decoders: [...], encoders: [...] } among the ones retinad reports or uses.
static Napi::Value Codecs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  Napi::Array dec = Napi::Array::New(env), enc = Napi::Array::New(env);
  for (const char* n : {"h264", "hevc", "av1", "vp9", "mpeg4", "mjpeg", "h264_cuvid", "hevc_cuvid"})
    if (avcodec_find_decoder_by_name(n)) dec.Set(dec.Length(), n);
  for (const char* n : {"libx264", "libx265", "h264_nvenc", "hevc_nvenc", "h264_vaapi", "hevc_vaapi", "mjpeg", "png"})
    if (avcodec_find_encoder_by_name(n)) enc.Set(enc.Length(), n);
  o.Set("decoders", dec);
  o.Set("encoders", enc);
  return o;
}

void InitDecoder(Napi::Env env, Napi::Object exports) {
  exports.Set("codecs", Napi::Function::New(env, Codecs, "codecs"));
  exports.Set("Decoder", DecoderWrap::Init(env));
}

}  // namespace retinad
#endif
