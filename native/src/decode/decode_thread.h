// The decode loop that runs on its own native thread: demux + decode with FFmpeg, optional
// hardware decode, sampling by presentation timestamp, reconnects for live sources. It knows
// nothing of JavaScript; the N-API wrapper (decoder.cc) drains its queue.
#pragma once
#ifdef RETINAD_HAVE_FFMPEG
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include "../media/av.h"

namespace retinad {

struct DecoderOptions {
  std::string url;
  std::string input_format;      // force a demuxer ("" = probe)
  double fps = 0;                // sampled frames per second; 0 = every frame
  double start_ms = 0;           // seek here first (checkpoints)
  std::string hwaccel = "auto";  // auto | none | cuda | vaapi
  int open_timeout_ms = 10000;
  int read_timeout_ms = 10000;
  std::string rtsp_transport = "tcp";  // tcp | udp
  int queue = 4;                 // sampled frames held before the decoder waits
  bool reconnect = false;        // live sources: reopen after an error or EOF
  int max_reconnects = -1;       // -1 = forever (once the source has produced a frame)
  int initial_attempts = 3;      // opens tried before the first frame: a wrong URL fails, it does not spin
  int backoff_max_ms = 10000;
  int threads = 0;               // decoder threads, 0 = auto
  bool autorotate = true;        // apply the display matrix
  std::string protocol_whitelist;  // protocols FFmpeg may open for this source ("" = FFmpeg's default)
  std::string http_proxy;          // every HTTP(S) request through this proxy (the URL policy per hop)
};

struct DecoderStats {
  int64_t packets = 0;
  int64_t frames_decoded = 0;
  int64_t frames_sampled = 0;
  int64_t packets_skippable = 0;  // sent with AVDISCARD_NONREF: no sampling instant wanted them
  int64_t reconnects = 0;
  int width = 0, height = 0, rotation = 0;
  double src_fps = 0;
  double duration_ms = 0;  // the container's duration as read at open (0: unknown or live), for Progress
  std::string codec, backend = "none", pix_fmt;
};

/** The shared state between the decode thread and its owner. */
class DecodeThread {
 public:
  explicit DecodeThread(DecoderOptions o) : o_(std::move(o)) {}
  ~DecodeThread() { Stop(); }

  /** Starts the thread; `notify` is called (from the thread) whenever a frame or the end is ready. */
  void Start(std::function<void()> notify);
  /** Stops and joins; queued frames are dropped. Safe to call twice. */
  void Stop();

  /** Takes the next frame if any. */
  bool Pop(DecodedFrame* out);
  /** True when no more frames will come (EOF or error). */
  bool Finished();
  /** Error kind ("source", "unsupported", "env", "internal") and text; kind empty on clean EOF. */
  void Error(std::string* kind, std::string* msg);
  DecoderStats Stats();

 private:
  void Run();
  int OpenInput(std::string* kind, std::string* msg);
  int DecodeLoop(std::string* kind, std::string* msg);  // 0 = EOF, <0 = error
  void CloseInput();
  bool Emit(AVFrame* f, std::string* kind, std::string* msg);
  bool Unwanted(int64_t pts);
  bool Push(DecodedFrame&& df);
  void Finish(const std::string& kind, const std::string& msg);
  static int Interrupt(void* opaque);
  static AVPixelFormat GetFormat(AVCodecContext* ctx, const AVPixelFormat* fmts);

  DecoderOptions o_;
  std::thread th_;
  std::function<void()> notify_;
  std::mutex mu_;
  std::condition_variable cv_space_;
  std::condition_variable cv_sleep_;
  std::deque<DecodedFrame> q_;
  bool finished_ = false;
  std::string err_kind_, err_msg_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> deadline_ms_{0};
  std::atomic<bool> timed_out_{false};
  DecoderStats stats_;

  // Per-connection FFmpeg state (decode thread only).
  AVFormatContext* fmt_ = nullptr;
  AVCodecContext* dec_ = nullptr;
  AVBufferRef* hw_ = nullptr;
  AVPixelFormat hw_pix_fmt_ = AV_PIX_FMT_NONE;
  int stream_ = -1;
  double tb_ms_ = 0;          // ms per pts tick
  int64_t origin_pts_ = AV_NOPTS_VALUE;
  double offset_ms_ = 0;      // added after a reconnect so time keeps increasing
  double next_ms_ = 0;        // next sampling target
  double last_ms_ = -1;
  double half_interval_ms_ = 1;
  std::deque<double> recent_ms_;  // times of the last packets sent (decode order), for Unwanted
  int64_t sampled_ = 0;
  int rotation_ = 0;
};

}  // namespace retinad
#endif
