// Pixel-format conversion and rotation of decoded frames into the canonical layouts the
// preprocess and encode code accept.
#include "av.h"
#ifdef RETINAD_HAVE_FFMPEG

namespace retinad {

FramePtr ToCanonical(const AVFrame* src, bool force_yuv420p, std::string* err) {
  auto fmt = static_cast<AVPixelFormat>(src->format);
  if (!force_yuv420p && (fmt == AV_PIX_FMT_YUV420P || fmt == AV_PIX_FMT_YUVJ420P || fmt == AV_PIX_FMT_NV12 || fmt == AV_PIX_FMT_RGB24)) {
    FramePtr out = MakeFrame();
    if (av_frame_ref(out.get(), src) < 0) { *err = "out of memory referencing a frame"; return nullptr; }
    return out;
  }
  if (force_yuv420p && (fmt == AV_PIX_FMT_YUV420P || fmt == AV_PIX_FMT_YUVJ420P)) {
    FramePtr out = MakeFrame();
    if (av_frame_ref(out.get(), src) < 0) { *err = "out of memory referencing a frame"; return nullptr; }
    return out;
  }
  FramePtr out = MakeFrame();
  out->format = AV_PIX_FMT_YUV420P;
  out->width = src->width;
  out->height = src->height;
  out->color_range = src->color_range == AVCOL_RANGE_JPEG ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
  out->colorspace = src->colorspace;
  if (av_frame_get_buffer(out.get(), 0) < 0) { *err = "out of memory allocating a frame"; return nullptr; }
  SwsContext* sws = sws_getContext(src->width, src->height, fmt, src->width, src->height, AV_PIX_FMT_YUV420P, SWS_BILINEAR, nullptr, nullptr, nullptr);
  if (!sws) { *err = std::string("cannot convert pixel format ") + (av_get_pix_fmt_name(fmt) ? av_get_pix_fmt_name(fmt) : "?"); return nullptr; }
  sws_scale(sws, src->data, src->linesize, 0, src->height, out->data, out->linesize);
  sws_freeContext(sws);
  out->pts = src->pts;
  out->key_frame = src->key_frame;
  return out;
}

FramePtr RotateYuv420(const AVFrame* src, int degrees) {
  degrees = ((degrees % 360) + 360) % 360;
  if (degrees == 0) return nullptr;
  const bool swap = degrees == 90 || degrees == 270;
  FramePtr out = MakeFrame();
  out->format = src->format;
  out->width = swap ? src->height : src->width;
  out->height = swap ? src->width : src->height;
  out->color_range = src->color_range;
  out->colorspace = src->colorspace;
  if (av_frame_get_buffer(out.get(), 0) < 0) return nullptr;
  for (int p = 0; p < 3; p++) {
    const int sw = p ? (src->width + 1) / 2 : src->width;
    const int sh = p ? (src->height + 1) / 2 : src->height;
    const uint8_t* s = src->data[p];
    uint8_t* d = out->data[p];
    const int sl = src->linesize[p], dl = out->linesize[p];
    for (int y = 0; y < sh; y++) {
      for (int x = 0; x < sw; x++) {
        int dx, dy;
        if (degrees == 90) { dx = sh - 1 - y; dy = x; }
        else if (degrees == 180) { dx = sw - 1 - x; dy = sh - 1 - y; }
        else { dx = y; dy = sw - 1 - x; }
        d[dy * dl + dx] = s[y * sl + x];
      }
    }
  }
  out->pts = src->pts;
  out->key_frame = src->key_frame;
  return out;
}

}  // namespace retinad
#endif
