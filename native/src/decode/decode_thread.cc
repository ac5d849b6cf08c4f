#include "decode_thread.h"
#ifdef RETINAD_HAVE_FFMPEG
#include <chrono>
#include <cmath>

namespace retinad {

static int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
static double WallMs() {
  return std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void DecodeThread::Start(std::function<void()> notify) {
  notify_ = std::move(notify);
  th_ = std::thread([this] { Run(); });
}

void DecodeThread::Stop() {
  stop_ = true;
  cv_space_.notify_all();
  cv_sleep_.notify_all();
  if (th_.joinable()) th_.join();
  std::lock_guard<std::mutex> lk(mu_);
  q_.clear();
}

bool DecodeThread::Pop(DecodedFrame* out) {
  std::lock_guard<std::mutex> lk(mu_);
  if (q_.empty()) return false;
  *out = std::move(q_.front());
  q_.pop_front();
  cv_space_.notify_all();
  return true;
}

bool DecodeThread::Finished() {
  std::lock_guard<std::mutex> lk(mu_);
  return finished_ && q_.empty();
}

void DecodeThread::Error(std::string* kind, std::string* msg) {
  std::lock_guard<std::mutex> lk(mu_);
  *kind = err_kind_;
  *msg = err_msg_;
}

DecoderStats DecodeThread::Stats() {
  std::lock_guard<std::mutex> lk(mu_);
  return stats_;
}

int DecodeThread::Interrupt(void* opaque) {
  auto* self = static_cast<DecodeThread*>(opaque);
  if (self->stop_) return 1;
  int64_t d = self->deadline_ms_;
  if (d && NowMs() > d) {
    self->timed_out_ = true;
    return 1;
  }
  return 0;
}

AVPixelFormat DecodeThread::GetFormat(AVCodecContext* ctx, const AVPixelFormat* fmts) {
  auto* self = static_cast<DecodeThread*>(ctx->opaque);
  for (const AVPixelFormat* p = fmts; *p != AV_PIX_FMT_NONE; p++)
    if (*p == self->hw_pix_fmt_) return *p;
  // The hardware cannot take this stream (profile, size): fall back to software for it.
  {
    std::lock_guard<std::mutex> lk(self->mu_);
    self->stats_.backend = "software";
  }
  for (const AVPixelFormat* p = fmts; *p != AV_PIX_FMT_NONE; p++) {
    const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(*p);
    if (d && !(d->flags & AV_PIX_FMT_FLAG_HWACCEL)) return *p;
  }
  return AV_PIX_FMT_NONE;
}

// One hardware device per type for the whole process: creating a CUDA context per stream is
// slow, and a failed probe (no driver) is remembered instead of retried on every open.
constexpr int kHwTypes = 32;  // > every AVHWDeviceType value
static std::mutex g_hw_mu;
static AVBufferRef* g_hw_dev[kHwTypes] = {nullptr};
static std::string g_hw_err[kHwTypes];
static bool g_hw_tried[kHwTypes] = {false};

static AVBufferRef* SharedHwDevice(AVHWDeviceType t, std::string* why) {
  std::lock_guard<std::mutex> lk(g_hw_mu);
  if (!g_hw_tried[t]) {
    g_hw_tried[t] = true;
    int r = av_hwdevice_ctx_create(&g_hw_dev[t], t, nullptr, nullptr, 0);
    if (r < 0) {
      g_hw_dev[t] = nullptr;
      g_hw_err[t] = AvError(r);
    }
  }
  if (!g_hw_dev[t]) {
    *why = g_hw_err[t];
    return nullptr;
  }
  return av_buffer_ref(g_hw_dev[t]);
}

static bool IsNetwork(const std::string& url) {
  return url.rfind("rtsp", 0) == 0 || url.rfind("rtmp", 0) == 0 || url.rfind("http", 0) == 0 || url.rfind("udp", 0) == 0 ||
         url.rfind("tcp", 0) == 0 || url.rfind("srt", 0) == 0;
}

int DecodeThread::OpenInput(std::string* kind, std::string* msg) {
  fmt_ = avformat_alloc_context();
  if (!fmt_) { *kind = "internal"; *msg = "out of memory"; return -1; }
  fmt_->interrupt_callback.callback = &DecodeThread::Interrupt;
  fmt_->interrupt_callback.opaque = this;
  AVDictionary* opts = nullptr;
  if (o_.url.rfind("rtsp", 0) == 0) av_dict_set(&opts, "rtsp_transport", o_.rtsp_transport.c_str(), 0);
  if (IsNetwork(o_.url)) av_dict_set(&opts, "rw_timeout", std::to_string(int64_t(o_.read_timeout_ms) * 1000).c_str(), 0);
  // Confinement (issue 10): only the protocols this scheme needs, also for what a playlist or a
  // redirect leads to (the whitelist is inherited by nested opens), and HTTP(S) through the
  // executor's proxy, which applies the URL policy to every hop (HLS passes http_proxy on).
  if (!o_.protocol_whitelist.empty()) av_dict_set(&opts, "protocol_whitelist", o_.protocol_whitelist.c_str(), 0);
  if (!o_.http_proxy.empty() && o_.url.rfind("http", 0) == 0) av_dict_set(&opts, "http_proxy", o_.http_proxy.c_str(), 0);
  const AVInputFormat* ifmt = nullptr;
  if (!o_.input_format.empty()) {
    ifmt = av_find_input_format(o_.input_format.c_str());
    if (!ifmt) { av_dict_free(&opts); *kind = "unsupported"; *msg = "input format " + o_.input_format + " is not available"; return -1; }
  }
  timed_out_ = false;
  recent_ms_.clear();
  deadline_ms_ = NowMs() + o_.open_timeout_ms;
  std::string path = o_.url.rfind("file://", 0) == 0 ? o_.url.substr(7) : o_.url;
  int r = avformat_open_input(&fmt_, path.c_str(), ifmt, &opts);
  av_dict_free(&opts);
  if (r < 0) {
    fmt_ = nullptr;  // freed by avformat_open_input on failure
    *kind = "source";
    *msg = timed_out_ ? "cannot open " + o_.url + ": no answer within " + std::to_string(o_.open_timeout_ms) + " ms"
                      : "cannot open " + o_.url + ": " + AvError(r);
    deadline_ms_ = 0;
    return -1;
  }
  r = avformat_find_stream_info(fmt_, nullptr);
  deadline_ms_ = 0;
  if (r < 0) { *kind = "source"; *msg = "cannot read stream info of " + o_.url + ": " + AvError(r); return -1; }
  const AVCodec* codec = nullptr;
  stream_ = av_find_best_stream(fmt_, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (stream_ == AVERROR_STREAM_NOT_FOUND) { *kind = "source"; *msg = o_.url + " has no video stream"; return -1; }
  if (stream_ < 0 || !codec) {
    const AVStream* s0 = nullptr;
    for (unsigned i = 0; i < fmt_->nb_streams; i++) if (fmt_->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) s0 = fmt_->streams[i];
    *kind = "unsupported";
    *msg = std::string("no decoder for the video codec ") + (s0 ? avcodec_get_name(s0->codecpar->codec_id) : "?") + " of " + o_.url;
    return -1;
  }
  AVStream* st = fmt_->streams[stream_];
  for (unsigned i = 0; i < fmt_->nb_streams; i++) if ((int)i != stream_) fmt_->streams[i]->discard = AVDISCARD_ALL;
  dec_ = avcodec_alloc_context3(codec);
  if (!dec_ || avcodec_parameters_to_context(dec_, st->codecpar) < 0) { *kind = "internal"; *msg = "cannot set up the decoder"; return -1; }
  dec_->thread_count = o_.threads;
  dec_->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
  dec_->pkt_timebase = st->time_base;

  // Hardware decode when asked or available; the backend actually used is reported.
  std::string backend = "software";
  if (o_.hwaccel != "none") {
    std::vector<AVHWDeviceType> types;
    if (o_.hwaccel == "auto" || o_.hwaccel == "cuda") types.push_back(AV_HWDEVICE_TYPE_CUDA);
    if (o_.hwaccel == "auto" || o_.hwaccel == "vaapi") types.push_back(AV_HWDEVICE_TYPE_VAAPI);
    std::string why;
    for (AVHWDeviceType t : types) {
      AVPixelFormat pf = AV_PIX_FMT_NONE;
      for (int i = 0;; i++) {
        const AVCodecHWConfig* c = avcodec_get_hw_config(codec, i);
        if (!c) break;
        if ((c->methods & AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX) && c->device_type == t) { pf = c->pix_fmt; break; }
      }
      if (pf == AV_PIX_FMT_NONE) { why += std::string(av_hwdevice_get_type_name(t)) + ": codec has no such hwaccel; "; continue; }
      std::string herr;
      hw_ = SharedHwDevice(t, &herr);
      if (!hw_) { why += std::string(av_hwdevice_get_type_name(t)) + ": " + herr + "; "; continue; }
      hw_pix_fmt_ = pf;
      dec_->hw_device_ctx = av_buffer_ref(hw_);
      dec_->opaque = this;
      dec_->get_format = &DecodeThread::GetFormat;
      backend = av_hwdevice_get_type_name(t);
      break;
    }
    if (backend == "software" && o_.hwaccel != "auto") {
      *kind = "env";
      *msg = "hwaccel " + o_.hwaccel + " is not available: " + why;
      return -1;
    }
  }
  r = avcodec_open2(dec_, codec, nullptr);
  if (r < 0) { *kind = "unsupported"; *msg = std::string("cannot open decoder ") + codec->name + ": " + AvError(r); return -1; }

  tb_ms_ = 1000.0 * av_q2d(st->time_base);
  origin_pts_ = st->start_time;
  AVRational fr = av_guess_frame_rate(fmt_, st, nullptr);
  double src_fps = fr.num && fr.den ? av_q2d(fr) : 0;
  half_interval_ms_ = src_fps > 0 ? 500.0 / src_fps : 1.0;
  rotation_ = 0;
  if (o_.autorotate) {
    const uint8_t* m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, nullptr);
    if (m) {
      double theta = -std::round(av_display_rotation_get(reinterpret_cast<const int32_t*>(m)));
      int deg = static_cast<int>(theta) % 360;
      if (deg < 0) deg += 360;
      if (deg == 90 || deg == 180 || deg == 270) rotation_ = deg;
    }
  }
  if (o_.start_ms > 0 && offset_ms_ == 0) {
    int64_t ts = int64_t(o_.start_ms * 1000);  // AV_TIME_BASE units
    if (fmt_->start_time != AV_NOPTS_VALUE) ts += fmt_->start_time;
    avformat_seek_file(fmt_, -1, INT64_MIN, ts, ts, AVSEEK_FLAG_BACKWARD);  // a failed seek is fine: frames before start are dropped
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    stats_.codec = codec->name;
    stats_.width = dec_->width;
    stats_.height = dec_->height;
    stats_.src_fps = src_fps;
    stats_.duration_ms = fmt_->duration != AV_NOPTS_VALUE && fmt_->duration > 0 ? fmt_->duration / 1000.0 : 0;
    stats_.rotation = rotation_;
    if (stats_.backend == "none" || stats_.backend == "software" || backend != "software") stats_.backend = backend;
  }
  return 0;
}

void DecodeThread::CloseInput() {
  if (dec_) avcodec_free_context(&dec_);
  if (hw_) av_buffer_unref(&hw_);
  if (fmt_) avformat_close_input(&fmt_);
  hw_pix_fmt_ = AV_PIX_FMT_NONE;
  stream_ = -1;
}

bool DecodeThread::Push(DecodedFrame&& df) {
  std::unique_lock<std::mutex> lk(mu_);
  // Back-pressure: a slow consumer holds the decoder here instead of piling frames up.
  cv_space_.wait(lk, [&] { return stop_ || (int)q_.size() < o_.queue; });
  if (stop_) return false;
  q_.push_back(std::move(df));
  stats_.frames_sampled++;
  lk.unlock();
  if (notify_) notify_();
  return true;
}

bool DecodeThread::Emit(AVFrame* f, std::string* kind, std::string* msg) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stats_.frames_decoded++;
  }
  int64_t pts = f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp : f->pts;
  if (pts == AV_NOPTS_VALUE) pts = origin_pts_ == AV_NOPTS_VALUE ? 0 : origin_pts_;
  if (origin_pts_ == AV_NOPTS_VALUE) origin_pts_ = pts;
  double t = offset_ms_ + (pts - origin_pts_) * tb_ms_;
  if (t < last_ms_) t = last_ms_;  // never go backwards (broken timestamps, wrap)
  last_ms_ = t;
  if (t + half_interval_ms_ < o_.start_ms) return true;
  if (o_.fps > 0) {
    if (t + half_interval_ms_ < next_ms_) return true;  // between sampling instants
    const double step = 1000.0 / o_.fps;
    if (next_ms_ < o_.start_ms) next_ms_ = o_.start_ms;
    while (next_ms_ <= t + half_interval_ms_) next_ms_ += step;
  }
  FramePtr sw;
  if (f->format == hw_pix_fmt_ && hw_pix_fmt_ != AV_PIX_FMT_NONE) {
    // Only sampled frames leave GPU memory.
    sw = MakeFrame();
    int r = av_hwframe_transfer_data(sw.get(), f, 0);
    if (r < 0) { *kind = "internal"; *msg = "GPU → system memory transfer failed: " + AvError(r); return false; }
    sw->pts = f->pts;
    sw->key_frame = f->key_frame;
    sw->color_range = f->color_range;
    sw->colorspace = f->colorspace;
  }
  const AVFrame* src = sw ? sw.get() : f;
  std::string err;
  FramePtr canon = ToCanonical(src, rotation_ != 0, &err);
  if (!canon) { *kind = "internal"; *msg = err; return false; }
  if (rotation_) {
    FramePtr rot = RotateYuv420(canon.get(), rotation_);
    if (rot) canon = rot;
  }
  DecodedFrame df;
  df.frame = canon;
  df.pts_ms = t;
  df.wall_ms = WallMs();
  df.index = sampled_++;
  df.keyframe = f->key_frame;
  return Push(std::move(df));
}

// True when Emit's sampling will drop the frame at `pts` whatever happens: it is before the start,
// or no sampling instant falls between it and the frame shown just before it. Emit serves an
// instant with the first frame at or past it (within half a frame), so after the frame before
// this one (p) the next instant served is the first one after p + half; this frame is wanted only
// if that instant is at or before t + half. p is found among the packets seen (they come in
// decode order, B-frames after the frames they point to); without it, or without timestamps, or
// out of order, the frame is decoded. The instants are Emit's: start + k / fps.
bool DecodeThread::Unwanted(int64_t pts) {
  if (pts == AV_NOPTS_VALUE || origin_pts_ == AV_NOPTS_VALUE) return false;
  const double t = offset_ms_ + (pts - origin_pts_) * tb_ms_;
  double p = -1e300;
  for (double x : recent_ms_) if (x < t && x > p) p = x;
  recent_ms_.push_back(t);
  if (recent_ms_.size() > 64) recent_ms_.pop_front();
  if (t < last_ms_) return false;
  const double h = half_interval_ms_;
  if (t + h < o_.start_ms) return true;
  if (o_.fps <= 0 || p == -1e300) return false;
  const double step = 1000.0 / o_.fps, eps = 0.01;
  const double lo = std::max(p + h, o_.start_ms - step), hi = t + h;  // instants in (lo, hi]?
  const double k = std::floor((hi + eps - o_.start_ms) / step);
  return k < 0 || o_.start_ms + k * step <= lo + eps;
}

int DecodeThread::DecodeLoop(std::string* kind, std::string* msg) {
  AVPacket* pkt = av_packet_alloc();
  AVFrame* frame = av_frame_alloc();
  int result = 0;
  bool draining = false;
  while (!stop_) {
    if (!draining) {
      timed_out_ = false;
      deadline_ms_ = NowMs() + o_.read_timeout_ms;
      int r = av_read_frame(fmt_, pkt);
      deadline_ms_ = 0;
      if (r == AVERROR_EOF) {
        draining = true;
        avcodec_send_packet(dec_, nullptr);
      } else if (r < 0) {
        if (stop_) break;
        *kind = "source";
        // AVERROR_EXIT comes only from Interrupt, and stop_ is not set: a read timeout. It can
        // surface one read late (the I/O layer keeps the error of a read that still returned
        // buffered data), after timed_out_ was reset for this read.
        *msg = timed_out_ || r == AVERROR_EXIT ? o_.url + " stalled: no data for " + std::to_string(o_.read_timeout_ms) + " ms" : "reading " + o_.url + ": " + AvError(r);
        result = -1;
        break;
      } else {
        if (pkt->stream_index != stream_) { av_packet_unref(pkt); continue; }
        {
          std::lock_guard<std::mutex> lk(mu_);
          stats_.packets++;
        }
        // A sampled stream (5 of 25 fps) decodes only what it shows and what other frames need:
        // a frame no sampling instant wants is skipped if nothing refers to it (B-frames without
        // a reference role), which halves decode CPU on typical H.264/HEVC with B-frames.
        // skip_frame is read per packet (frame threads copy it from this context).
        const bool skippable = Unwanted(pkt->pts);
        dec_->skip_frame = skippable ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
        if (skippable) {
          std::lock_guard<std::mutex> lk(mu_);
          stats_.packets_skippable++;
        }
        r = avcodec_send_packet(dec_, pkt);
        av_packet_unref(pkt);
        // A corrupt packet is skipped, as players do; the source is judged by whether frames come.
        if (r < 0 && r != AVERROR(EAGAIN) && r != AVERROR_INVALIDDATA) {
          *kind = "source";
          *msg = "decoding " + o_.url + ": " + AvError(r);
          result = -1;
          break;
        }
      }
    }
    for (;;) {
      int r = avcodec_receive_frame(dec_, frame);
      if (r == AVERROR(EAGAIN)) break;
      if (r == AVERROR_EOF) { result = 0; goto done; }
      if (r < 0) {
        if (r == AVERROR_INVALIDDATA) continue;
        *kind = "source";
        *msg = "decoding " + o_.url + ": " + AvError(r);
        result = -1;
        goto done;
      }
      bool ok = Emit(frame, kind, msg);
      av_frame_unref(frame);
      if (!ok) { result = stop_ ? 0 : -1; goto done; }
    }
  }
done:
  av_frame_free(&frame);
  av_packet_free(&pkt);
  return result;
}

void DecodeThread::Finish(const std::string& kind, const std::string& msg) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    finished_ = true;
    err_kind_ = kind;
    err_msg_ = msg;
  }
  if (notify_) notify_();
}

void DecodeThread::Run() {
  int backoff = 250;
  for (;;) {
    std::string kind, msg;
    int r = OpenInput(&kind, &msg);
    int64_t decoded_before = stats_.frames_decoded;
    if (r == 0) r = DecodeLoop(&kind, &msg);
    CloseInput();
    if (stop_) { Finish("", ""); return; }
    const bool never_worked = stats_.frames_decoded == 0;
    const bool can_retry = o_.reconnect && kind != "unsupported" && kind != "env" && kind != "internal" &&
                      (o_.max_reconnects < 0 || stats_.reconnects < o_.max_reconnects) &&
                      !(never_worked && stats_.reconnects + 1 >= o_.initial_attempts);
    if (!can_retry) {
      Finish(r == 0 ? "" : kind, r == 0 ? "" : msg);
      return;
    }
    // Live source: reopen with capped exponential backoff; time continues after the last frame.
    if (stats_.frames_decoded > decoded_before) backoff = 250;
    {
      std::lock_guard<std::mutex> lk(mu_);
      stats_.reconnects++;
    }
    if (last_ms_ >= 0) offset_ms_ = last_ms_ + 2 * half_interval_ms_;
    origin_pts_ = AV_NOPTS_VALUE;
    std::unique_lock<std::mutex> lk(mu_);
    cv_sleep_.wait_for(lk, std::chrono::milliseconds(backoff), [&] { return stop_.load(); });
    lk.unlock();
    if (stop_) { Finish("", ""); return; }
    backoff = std::min(backoff * 2, o_.backoff_max_ms);
  }
}

}  // namespace retinad
#endif
