// Frame → model input tensor in caller memory: crop, colour conversion, letterbox or stretch
// resize (antialiased bilinear at any ratio), mean/std normalisation, NCHW or NHWC, float32 or
// uint8 — in one pass from the YUV planes, no 8-bit RGB image in between. Needs no FFmpeg.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include "../media/picture.h"

namespace retinad {

struct PreprocessSpec {
  int width = 0, height = 0;
  bool letterbox = true;   // else stretch
  bool nchw = true;        // else nhwc
  bool f32 = true;         // else uint8
  bool bgr = false;        // channel order
  float mean[3] = {0, 0, 0};
  float stdv[3] = {1, 1, 1};
  float scale = 1.0f / 255.0f;  // value = (pixel * scale - mean) / std
  int pad = 114;                 // letterbox fill (pixel value)
  bool has_crop = false;
  Rect crop;
};

struct PreprocessResult {
  double scale_x = 1, scale_y = 1;  // tensor px per source px
  int pad_x = 0, pad_y = 0;         // top-left of the content in the tensor
  int content_w = 0, content_h = 0;
};

/** Writes the tensor for `f` into `out` (`out_bytes` long). Returns false with `err` set. */
bool Preprocess(const Picture& f, const PreprocessSpec& s, uint8_t* out, size_t out_bytes, PreprocessResult* res, std::string* err);

}  // namespace retinad
