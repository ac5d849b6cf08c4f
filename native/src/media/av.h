// Shared FFmpeg helpers for the media rooms: owned pointers, error text, and the frame type
// that travels from the decoder to JavaScript (a ref-counted AVFrame in system memory).
#pragma once
#ifdef RETINAD_HAVE_FFMPEG
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/display.h>
#include <libavutil/hwcontext.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}
#include <memory>
#include <string>

namespace retinad {

inline std::string AvError(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(err, buf, sizeof(buf));
  return std::string(buf);
}

struct FrameDeleter {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
using FramePtr = std::shared_ptr<AVFrame>;

inline FramePtr MakeFrame() { return FramePtr(av_frame_alloc(), FrameDeleter()); }

/** A decoded, sampled picture plus what the runtime needs to stamp it. */
struct DecodedFrame {
  FramePtr frame;      // system memory; yuv420p, yuvj420p or nv12 (others are converted)
  double pts_ms = 0;   // presentation time from the start of the source (plus start offset)
  double wall_ms = 0;  // system clock (epoch ms) when the frame left the decoder
  int64_t index = 0;   // 0-based among sampled frames
  bool keyframe = false;
};

/** Rotates a yuv420p/yuvj420p frame by 90, 180 or 270 degrees clockwise. */
FramePtr RotateYuv420(const AVFrame* src, int degrees);

/** Converts any software frame to yuv420p (keeps yuv420p/yuvj420p/nv12/rgb24 as they are unless forced). */
FramePtr ToCanonical(const AVFrame* src, bool force_yuv420p, std::string* err);

}  // namespace retinad
#endif
