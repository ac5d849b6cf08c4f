// A picture in system memory as the preprocess and encode code see it: a pixel format this core
// understands, plane pointers and strides, colour range and matrix. It needs no FFmpeg, so the
// whole analysis path (preprocess, crops, colour conversion) builds without the FFmpeg libraries;
// the decoder's AVFrames are wrapped, not copied.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace retinad {

enum class PixFmt { YUV420P, NV12, RGB24 };

/** "yuv420p" / "yuvj420p" (full range) / "nv12" / "rgb24" → format; false for anything else. */
bool ParsePixFmt(const std::string& name, PixFmt* fmt, bool* full_range);
const char* PixFmtName(PixFmt fmt, bool full_range);

struct Picture {
  PixFmt fmt = PixFmt::YUV420P;
  int width = 0, height = 0;
  uint8_t* data[3] = {nullptr, nullptr, nullptr};
  int linesize[3] = {0, 0, 0};
  bool full_range = false;
  bool bt709 = false;
  /** Whatever owns the pixels (a byte vector, or the decoder's AVFrame). */
  std::shared_ptr<void> owner;

  int Planes() const { return fmt == PixFmt::YUV420P ? 3 : fmt == PixFmt::NV12 ? 2 : 1; }
  /** Rows of plane p (chroma planes of 4:2:0 have half, rounded up). */
  int PlaneRows(int p) const { return p == 0 ? height : (height + 1) / 2; }
  /** Bytes of one row of plane p without padding. */
  int PlaneRowBytes(int p) const {
    if (fmt == PixFmt::RGB24) return width * 3;
    if (p == 0) return width;
    return fmt == PixFmt::NV12 ? 2 * ((width + 1) / 2) : (width + 1) / 2;
  }
};
using PicturePtr = std::shared_ptr<const Picture>;

/** A new picture with tightly packed planes it owns (zeroed). */
std::shared_ptr<Picture> NewPicture(PixFmt fmt, int width, int height, bool full_range);

/** Bytes of a tightly packed picture of this format and size. */
size_t PackedSize(PixFmt fmt, int width, int height);

/** A sampled picture plus what the runtime needs to stamp it. */
struct FrameData {
  PicturePtr pic;
  double pts_ms = 0;   // presentation time from the start of the source (plus start offset)
  double wall_ms = 0;  // system clock (epoch ms) when the frame left the decoder
  int64_t index = 0;   // 0-based among sampled frames
  bool keyframe = false;
};

struct Rect { int x = 0, y = 0, w = 0, h = 0; };

/** Checks that `r` lies inside `p`; an empty rect means the whole picture. */
bool CheckCrop(const Picture& p, Rect* r, std::string* err);

}  // namespace retinad
