// The JavaScript Encoder: H.264/H.265 (libx264/libx265 in the system's libavcodec) into an MP4
// file, frame by frame, each write on the libuv pool. The transcoder (TaskType 3) makes one per
// video slice, so every slice starts with a keyframe and plays on its own.
#include "encoder.h"
#ifdef RETINAD_HAVE_FFMPEG
#include <memory>
#include <mutex>
#include "../media/av.h"
#include "../media/frame_wrap.h"
#include "../media/av_picture.h"

namespace retinad {

struct EncState {
  std::mutex mu;
  AVFormatContext* fmt = nullptr;
  AVCodecContext* enc = nullptr;
  AVStream* st = nullptr;
  SwsContext* sws = nullptr;
  AVPacket* pkt = nullptr;
  int width = 0, height = 0;
  int64_t frames = 0;
  int64_t bytes = 0;
  bool open = false;
  std::string err;

  ~EncState() { Close(); }
  void Close() {
    if (sws) sws_freeContext(sws);
    sws = nullptr;
    if (pkt) av_packet_free(&pkt);
    if (enc) avcodec_free_context(&enc);
    if (fmt) {
      if (!(fmt->oformat->flags & AVFMT_NOFILE) && fmt->pb) avio_closep(&fmt->pb);
      avformat_free_context(fmt);
      fmt = nullptr;
    }
    open = false;
  }
  // Sends one frame (or nullptr to flush) and writes what the encoder gives back.
  bool Feed(AVFrame* f) {
    int r = avcodec_send_frame(enc, f);
    if (r < 0 && r != AVERROR_EOF) { err = "encoding: " + AvError(r); return false; }
    for (;;) {
      r = avcodec_receive_packet(enc, pkt);
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return true;
      if (r < 0) { err = "encoding: " + AvError(r); return false; }
      av_packet_rescale_ts(pkt, enc->time_base, st->time_base);
      pkt->stream_index = st->index;
      bytes += pkt->size;
      r = av_interleaved_write_frame(fmt, pkt);
      if (r < 0) { err = "writing: " + AvError(r); return false; }
    }
  }
};

class EncodeWork : public Napi::AsyncWorker {
 public:
  EncodeWork(Napi::Env env, std::shared_ptr<EncState> s, FramePtr f, double pts_ms, bool finish)
      : Napi::AsyncWorker(env), d_(Napi::Promise::Deferred::New(env)), s_(std::move(s)), f_(std::move(f)), pts_ms_(pts_ms), finish_(finish) {}
  Napi::Promise Promise() { return d_.Promise(); }
  void Execute() override {
    std::lock_guard<std::mutex> lk(s_->mu);
    if (!s_->open) { SetError("encoder is closed"); return; }
    if (finish_) {
      if (!s_->Feed(nullptr)) { SetError(s_->err); return; }
      int r = av_write_trailer(s_->fmt);
      if (r < 0) { SetError("writing trailer: " + AvError(r)); return; }
      s_->Close();
      return;
    }
    const AVFrame* src = f_.get();
    FramePtr scaled = MakeFrame();
    scaled->format = AV_PIX_FMT_YUV420P;
    scaled->width = s_->width;
    scaled->height = s_->height;
    if (av_frame_get_buffer(scaled.get(), 0) < 0) { SetError("out of memory"); return; }
    s_->sws = sws_getCachedContext(s_->sws, src->width, src->height, static_cast<AVPixelFormat>(src->format), s_->width, s_->height, AV_PIX_FMT_YUV420P,
                                   SWS_BICUBIC, nullptr, nullptr, nullptr);
    if (!s_->sws) { SetError("cannot scale this frame for encoding"); return; }
    sws_scale(s_->sws, src->data, src->linesize, 0, src->height, scaled->data, scaled->linesize);
    scaled->pts = (int64_t)std::llround(pts_ms_);  // encoder time base is 1/1000
    if (!s_->Feed(scaled.get())) { SetError(s_->err); return; }
    s_->frames++;
  }
  void OnOK() override {
    Napi::Object o = Napi::Object::New(Env());
    o.Set("frames", (double)s_->frames);
    o.Set("bytes", (double)s_->bytes);
    d_.Resolve(o);
  }
  void OnError(const Napi::Error& e) override { d_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred d_;
  std::shared_ptr<EncState> s_;
  FramePtr f_;
  double pts_ms_;
  bool finish_;
};

class EncoderWrap : public Napi::ObjectWrap<EncoderWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Encoder", {InstanceMethod<&EncoderWrap::Write>("write"), InstanceMethod<&EncoderWrap::Finish>("finish")});
  }

  // new Encoder({ file, codec: 'libx264'|'libx265', bitrateKbps, width, height, fps })
  explicit EncoderWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EncoderWrap>(info), s_(std::make_shared<EncState>()) {
    Napi::Env env = info.Env();
    Napi::Object o = info[0].As<Napi::Object>();
    const std::string file = o.Get("file").ToString().Utf8Value();
    const std::string codec = o.Get("codec").ToString().Utf8Value();
    const int kbps = o.Get("bitrateKbps").ToNumber().Int32Value();
    s_->width = o.Get("width").ToNumber().Int32Value();
    s_->height = o.Get("height").ToNumber().Int32Value();
    const int fps = std::max(1, o.Get("fps").ToNumber().Int32Value());
    auto fail = [&](const std::string& m) { s_->Close(); Napi::Error::New(env, m).ThrowAsJavaScriptException(); };
    const AVCodec* c = avcodec_find_encoder_by_name(codec.c_str());
    if (!c) { fail("encoder " + codec + " is not in this FFmpeg build"); return; }
    if (avformat_alloc_output_context2(&s_->fmt, nullptr, "mp4", file.c_str()) < 0 || !s_->fmt) { fail("cannot create an MP4 muxer"); return; }
    s_->st = avformat_new_stream(s_->fmt, nullptr);
    s_->enc = avcodec_alloc_context3(c);
    s_->pkt = av_packet_alloc();
    AVCodecContext* e = s_->enc;
    e->width = s_->width;
    e->height = s_->height;
    e->pix_fmt = AV_PIX_FMT_YUV420P;
    e->time_base = AVRational{1, 1000};
    e->framerate = AVRational{fps, 1};
    e->bit_rate = (int64_t)kbps * 1000;
    e->rc_max_rate = e->bit_rate * 3 / 2;
    e->rc_buffer_size = (int)(e->bit_rate * 2);
    e->gop_size = fps * 2;
    e->max_b_frames = 0;  // slices are short: keep latency and reordering out
    if (s_->fmt->oformat->flags & AVFMT_GLOBALHEADER) e->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary* eo = nullptr;
    av_dict_set(&eo, "preset", "veryfast", 0);
    if (codec == "libx265") av_dict_set(&eo, "x265-params", "log-level=error", 0);
    int r = avcodec_open2(e, c, &eo);
    av_dict_free(&eo);
    if (r < 0) { fail("cannot open " + codec + ": " + AvError(r)); return; }
    avcodec_parameters_from_context(s_->st->codecpar, e);
    s_->st->time_base = e->time_base;
    if (codec == "libx265") s_->st->codecpar->codec_tag = MKTAG('h', 'v', 'c', '1');  // plays in browsers and players
    if (avio_open(&s_->fmt->pb, file.c_str(), AVIO_FLAG_WRITE) < 0) { fail("cannot write " + file); return; }
    AVDictionary* mo = nullptr;
    av_dict_set(&mo, "movflags", "+faststart", 0);
    r = avformat_write_header(s_->fmt, &mo);
    av_dict_free(&mo);
    if (r < 0) { fail("writing MP4 header: " + AvError(r)); return; }
    s_->open = true;
  }

 private:
  // write(frame, ptsMs) → Promise<{ frames, bytes }>
  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) {
      Napi::TypeError::New(env, "write(frame): a Frame is required").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    PicturePtr pic = FrameWrap::Unwrap(info[0].As<Napi::Object>())->picture();
    FramePtr f = pic ? AvView(pic) : nullptr;
    if (!f) {
      Napi::Error::New(env, "write(frame): frame was released").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    auto* w = new EncodeWork(env, s_, f, info[1].ToNumber().DoubleValue(), false);
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  }
  // finish() → Promise<{ frames, bytes }>: flushes, writes the trailer and closes the file.
  Napi::Value Finish(const Napi::CallbackInfo& info) {
    auto* w = new EncodeWork(info.Env(), s_, nullptr, 0, true);
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  }

  std::shared_ptr<EncState> s_;
};

void InitEncoder(Napi::Env env, Napi::Object exports) {
  exports.Set("Encoder", EncoderWrap::Init(env));
}

}  // namespace retinad
#endif
