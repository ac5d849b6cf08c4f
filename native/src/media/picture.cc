#include "picture.h"
#include <vector>

namespace retinad {

bool ParsePixFmt(const std::string& name, PixFmt* fmt, bool* full_range) {
  if (name == "yuv420p" || name == "yuvj420p") { *fmt = PixFmt::YUV420P; if (name == "yuvj420p") *full_range = true; return true; }
  if (name == "nv12") { *fmt = PixFmt::NV12; return true; }
  if (name == "rgb24") { *fmt = PixFmt::RGB24; return true; }
  return false;
}

const char* PixFmtName(PixFmt fmt, bool full_range) {
  switch (fmt) {
    case PixFmt::YUV420P: return full_range ? "yuvj420p" : "yuv420p";
    case PixFmt::NV12: return "nv12";
    case PixFmt::RGB24: return "rgb24";
  }
  return "unknown";
}

size_t PackedSize(PixFmt fmt, int w, int h) {
  const size_t cw = (size_t)(w + 1) / 2, ch = (size_t)(h + 1) / 2;
  switch (fmt) {
    case PixFmt::YUV420P: return (size_t)w * h + 2 * cw * ch;
    case PixFmt::NV12: return (size_t)w * h + 2 * cw * ch;
    case PixFmt::RGB24: return (size_t)w * h * 3;
  }
  return 0;
}

std::shared_ptr<Picture> NewPicture(PixFmt fmt, int w, int h, bool full_range) {
  auto p = std::make_shared<Picture>();
  p->fmt = fmt;
  p->width = w;
  p->height = h;
  p->full_range = full_range || fmt == PixFmt::RGB24;
  // 32 spare bytes: the row kernels may read a little past a plane's last pixel.
  auto buf = std::make_shared<std::vector<uint8_t>>(PackedSize(fmt, w, h) + 32);
  uint8_t* base = buf->data();
  for (int i = 0; i < p->Planes(); i++) {
    p->data[i] = base;
    p->linesize[i] = p->PlaneRowBytes(i);
    base += (size_t)p->linesize[i] * p->PlaneRows(i);
  }
  p->owner = buf;
  return p;
}

bool CheckCrop(const Picture& p, Rect* r, std::string* err) {
  if (r->w <= 0 || r->h <= 0) { *r = {0, 0, p.width, p.height}; return true; }
  if (r->x < 0 || r->y < 0 || (int64_t)r->x + r->w > p.width || (int64_t)r->y + r->h > p.height) {
    *err = "crop " + std::to_string(r->x) + "," + std::to_string(r->y) + " " + std::to_string(r->w) + "x" + std::to_string(r->h) +
           " is outside the " + std::to_string(p.width) + "x" + std::to_string(p.height) + " frame";
    return false;
  }
  return true;
}

}  // namespace retinad
