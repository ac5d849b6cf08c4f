// Frame → model input tensor (see preprocess.h). Our own kernels, no FFmpeg: resampling in
// resample.cc, and the fixed 2:1 and 3:1 shrinks of 4:2:0 as dedicated row filters.
#include "preprocess.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>
#include "resample.h"

namespace retinad {

/** YUV → RGB constants of one frame (range and matrix), and the per-channel a·x + b of the tensor. */
struct RowCoeffs {
  float yo, ys, cs, kr, kgb, kgr, kb;
  float a[3], b[3];  // per output channel; identity for uint8
  int ri, bi;        // output channel of R and of B (0/2, or 2/0 for BGR)
};

template <typename T>
static inline T Store(float v) {
  if constexpr (sizeof(T) == 1) return static_cast<T>(static_cast<int>(v + 0.5f));  // v is clamped to 0..255
  else return v;
}

/**
 * One row of 4:4:4 YUV into the tensor: three planes (NCHW) or interleaved pixels (NHWC).
 * Restrict-qualified pointers let the compiler vectorise it; through uint8_t pointers, which may
 * alias anything, it would not (measured: 4× slower for a 640×640 float32 tensor).
 */
template <typename T>
static void RowToPlanes(const uint8_t* __restrict Y, const uint8_t* __restrict U, const uint8_t* __restrict V,
                        T* __restrict pr, T* __restrict pg, T* __restrict pb, int n, const RowCoeffs& k) {
  const float yo = k.yo, ys = k.ys, cs = k.cs, kr = k.kr, kgb = k.kgb, kgr = k.kgr, kb = k.kb;
  const float ar = k.a[k.ri], br = k.b[k.ri], ag = k.a[1], bg = k.b[1], ab = k.a[k.bi], bb = k.b[k.bi];
  for (int x = 0; x < n; x++) {
    const float yy = ((float)Y[x] - yo) * ys, u = ((float)U[x] - 128.0f) * cs, v = ((float)V[x] - 128.0f) * cs;
    const float r = std::min(255.0f, std::max(0.0f, yy + kr * v));
    const float g = std::min(255.0f, std::max(0.0f, yy - kgb * u - kgr * v));
    const float bl = std::min(255.0f, std::max(0.0f, yy + kb * u));
    pr[x] = Store<T>(r * ar + br);
    pg[x] = Store<T>(g * ag + bg);
    pb[x] = Store<T>(bl * ab + bb);
  }
}

template <typename T>
static void RowToPixels(const uint8_t* __restrict Y, const uint8_t* __restrict U, const uint8_t* __restrict V,
                        T* __restrict d, int n, const RowCoeffs& k) {
  const float yo = k.yo, ys = k.ys, cs = k.cs, kr = k.kr, kgb = k.kgb, kgr = k.kgr, kb = k.kb;
  const bool bgr = k.ri == 2;
  for (int x = 0; x < n; x++) {
    const float yy = ((float)Y[x] - yo) * ys, u = ((float)U[x] - 128.0f) * cs, v = ((float)V[x] - 128.0f) * cs;
    const float r = std::min(255.0f, std::max(0.0f, yy + kr * v));
    const float g = std::min(255.0f, std::max(0.0f, yy - kgb * u - kgr * v));
    const float bl = std::min(255.0f, std::max(0.0f, yy + kb * u));
    const float c0 = bgr ? bl : r, c2 = bgr ? r : bl;
    d[x * 3 + 0] = Store<T>(c0 * k.a[0] + k.b[0]);
    d[x * 3 + 1] = Store<T>(g * k.a[1] + k.b[1]);
    d[x * 3 + 2] = Store<T>(c2 * k.a[2] + k.b[2]);
  }
}

/** Fills the letterbox bands of a W×H tensor around the ch×cw content at (ox, oy); the content is written after. */
template <typename T>
static void FillBands(T* o, bool nchw, int W, int H, int ox, int oy, int cw, int ch, const T padv[3]) {
  if (nchw) {
    for (int c = 0; c < 3; c++) {
      T* pl = o + (size_t)c * W * H;
      std::fill(pl, pl + (size_t)oy * W, padv[c]);
      std::fill(pl + (size_t)(oy + ch) * W, pl + (size_t)W * H, padv[c]);
      if (ox || cw != W)
        for (int y = oy; y < oy + ch; y++) {
          std::fill(pl + (size_t)y * W, pl + (size_t)y * W + ox, padv[c]);
          std::fill(pl + (size_t)y * W + ox + cw, pl + (size_t)(y + 1) * W, padv[c]);
        }
    }
    return;
  }
  if (!ox && !oy && cw == W && ch == H) return;
  auto fill = [&](size_t from, size_t to) { for (size_t i = from; i < to; i++) { o[i * 3] = padv[0]; o[i * 3 + 1] = padv[1]; o[i * 3 + 2] = padv[2]; } };
  fill(0, (size_t)oy * W);
  fill((size_t)(oy + ch) * W, (size_t)W * H);
  if (ox || cw != W)
    for (int y = oy; y < oy + ch; y++) {
      fill((size_t)y * W, (size_t)y * W + ox);
      fill((size_t)y * W + ox + cw, (size_t)(y + 1) * W);
    }
}

/** Content rows into the tensor at (ox, oy); `rows(y, Y, U, V)` gives row y of the cw×ch 4:4:4 content. */
template <typename T, typename Rows>
static void YuvToTensor(Rows rows, int cw, int ch, T* o, bool nchw, int W, int H, int ox, int oy, const RowCoeffs& k) {
  for (int y = 0; y < ch; y++) {
    const uint8_t *Y, *U, *V;
    rows(y, &Y, &U, &V);
    if (nchw) {
      const size_t off = (size_t)(y + oy) * W + ox;
      RowToPlanes<T>(Y, U, V, o + (size_t)k.ri * W * H + off, o + (size_t)W * H + off, o + (size_t)k.bi * W * H + off, cw, k);
    } else {
      RowToPixels<T>(Y, U, V, o + ((size_t)(y + oy) * W + ox) * 3, cw, k);
    }
  }
}

/**
 * Luma row y of a plane shrunk to exactly half: the same antialiased bilinear swscale applies at
 * 2:1 — a [1 3 3 1]/8 triangle over four source rows, then over four source columns, edges
 * clamped. `acc` holds 2n (+2) 16-bit sums.
 */
static void HalveRow(const uint8_t* plane, int stride, int sh, int y, uint16_t* __restrict acc, uint8_t* __restrict d, int n) {
  const int r0 = std::max(0, 2 * y - 1), r3 = std::min(sh - 1, 2 * y + 2);
  const uint8_t* __restrict a = plane + (size_t)r0 * stride;
  const uint8_t* __restrict b = plane + (size_t)(2 * y) * stride;
  const uint8_t* __restrict c = plane + (size_t)(2 * y + 1) * stride;
  const uint8_t* __restrict e = plane + (size_t)r3 * stride;
  uint16_t* __restrict t = acc + 1;  // t[-1] and t[2n] are the clamped edge columns
  for (int x = 0; x < 2 * n; x++) t[x] = (uint16_t)(a[x] + 3 * (b[x] + c[x]) + e[x]);
  t[-1] = t[0];
  t[2 * n] = t[2 * n - 1];
  for (int x = 0; x < n; x++) d[x] = (uint8_t)((t[2 * x - 1] + 3 * (t[2 * x] + t[2 * x + 1]) + t[2 * x + 2] + 32) >> 6);
}

/**
 * Luma row y of a plane shrunk to exactly a third: swscale's antialiased bilinear at 3:1 is the
 * [1 2 3 2 1]/9 triangle over five source rows, then over five source columns, edges clamped.
 */
static void ThirdRow(const uint8_t* plane, int stride, int sh, int y, uint16_t* __restrict acc, uint8_t* __restrict d, int n) {
  const uint8_t* __restrict r0 = plane + (size_t)std::max(0, 3 * y - 1) * stride;
  const uint8_t* __restrict r1 = plane + (size_t)(3 * y) * stride;
  const uint8_t* __restrict r2 = plane + (size_t)(3 * y + 1) * stride;
  const uint8_t* __restrict r3 = plane + (size_t)(3 * y + 2) * stride;
  const uint8_t* __restrict r4 = plane + (size_t)std::min(sh - 1, 3 * y + 3) * stride;
  uint16_t* __restrict t = acc + 1;  // t[-1] and t[3n] are the clamped edge columns
  for (int x = 0; x < 3 * n; x++) t[x] = (uint16_t)(r0[x] + 2 * r1[x] + 3 * r2[x] + 2 * r3[x] + r4[x]);
  t[-1] = t[0];
  t[3 * n] = t[3 * n - 1];
  for (int x = 0; x < n; x++) {
    const uint32_t v = t[3 * x - 1] + 2u * t[3 * x] + 3u * t[3 * x + 1] + 2u * t[3 * x + 2] + t[3 * x + 3];
    d[x] = (uint8_t)((v + 40) / 81);
  }
}

/**
 * Chroma row y of a plane shrunk by 3:2 (4:2:0 chroma of a frame shrunk to a third): the
 * antialiased bilinear at 1.5:1 alternates two 3-tap kernels, [1 5 3]/9 and [3 5 1]/9, over
 * rows and then columns, edges clamped. n (even) outputs from 3n/2 columns.
 */
static void ThreeHalvesRow(const uint8_t* plane, int stride, int ph, int y, uint16_t* __restrict acc, uint8_t* __restrict d, int n) {
  const int m = y >> 1;
  const bool odd = y & 1;
  const int a = odd ? 3 * m + 1 : std::max(0, 3 * m - 1), b = odd ? 3 * m + 2 : 3 * m, c = odd ? std::min(ph - 1, 3 * m + 3) : 3 * m + 1;
  const uint16_t wa = odd ? 3 : 1, wc = odd ? 1 : 3;
  const uint8_t* __restrict ra = plane + (size_t)a * stride;
  const uint8_t* __restrict rb = plane + (size_t)b * stride;
  const uint8_t* __restrict rc = plane + (size_t)c * stride;
  const int w = 3 * n / 2;
  uint16_t* __restrict t = acc + 1;  // t[-1] and t[w] are the clamped edge columns
  for (int x = 0; x < w; x++) t[x] = (uint16_t)(wa * ra[x] + 5 * rb[x] + wc * rc[x]);
  t[-1] = t[0];
  t[w] = t[w - 1];
  for (int k = 0; k < n / 2; k++) {
    const uint32_t e = t[3 * k - 1] + 5u * t[3 * k] + 3u * t[3 * k + 1];
    const uint32_t o = 3u * t[3 * k + 1] + 5u * t[3 * k + 2] + t[3 * k + 3];
    d[2 * k] = (uint8_t)((e + 40) / 81);
    d[2 * k + 1] = (uint8_t)((o + 40) / 81);
  }
}


/** RGB planes at content size into the tensor (channel order, a·x + b, layout). */
template <typename T>
static void RgbToTensor(const uint8_t* R, const uint8_t* G, const uint8_t* B, int cw, int ch, T* o, bool nchw, int W, int H, int ox, int oy, const RowCoeffs& k) {
  const uint8_t* src[3] = {R, G, B};
  for (int y = 0; y < ch; y++) {
    for (int c = 0; c < 3; c++) {
      // Output channel oc holds source channel c (R → ri, G → 1, B → bi).
      const int oc = c == 0 ? k.ri : c == 2 ? k.bi : 1;
      const uint8_t* __restrict s = src[c] + (size_t)y * cw;
      const float a = k.a[oc], b = k.b[oc];
      if (nchw) {
        T* __restrict d = o + (size_t)oc * W * H + (size_t)(y + oy) * W + ox;
        for (int x = 0; x < cw; x++) d[x] = Store<T>((float)s[x] * a + b);
      } else {
        T* __restrict d = o + ((size_t)(y + oy) * W + ox) * 3 + oc;
        for (int x = 0; x < cw; x++) d[x * 3] = Store<T>((float)s[x] * a + b);
      }
    }
  }
}

bool Preprocess(const Picture& f, const PreprocessSpec& s, uint8_t* out, size_t out_bytes, PreprocessResult* res, std::string* err) {
  if (s.width <= 0 || s.height <= 0) { *err = "target size must be positive"; return false; }
  const size_t need = (size_t)s.width * s.height * 3 * (s.f32 ? 4 : 1);
  if (out_bytes < need) { *err = "output buffer holds " + std::to_string(out_bytes) + " bytes; the tensor needs " + std::to_string(need); return false; }
  Rect r = s.has_crop ? s.crop : Rect{};
  if (!CheckCrop(f, &r, err)) return false;
  const int sw = r.w, sh = r.h;

  int cw = s.width, ch = s.height, ox = 0, oy = 0;
  if (s.letterbox) {
    const double k = std::min((double)s.width / sw, (double)s.height / sh);
    cw = std::max(1, (int)std::lround(sw * k));
    ch = std::max(1, (int)std::lround(sh * k));
    cw = std::min(cw, s.width);
    ch = std::min(ch, s.height);
    ox = (s.width - cw) / 2;
    oy = (s.height - ch) / 2;
  }
  res->scale_x = (double)cw / sw;
  res->scale_y = (double)ch / sh;
  res->pad_x = ox;
  res->pad_y = oy;
  res->content_w = cw;
  res->content_h = ch;

  const bool full = f.full_range;
  const bool bt709 = f.bt709;
  RowCoeffs k{};
  k.kr = bt709 ? 1.5748f : 1.402f; k.kgb = bt709 ? 0.187324f : 0.344136f; k.kgr = bt709 ? 0.468124f : 0.714136f; k.kb = bt709 ? 1.8556f : 1.772f;
  k.ys = full ? 1.0f : 255.0f / 219.0f; k.yo = full ? 0.0f : 16.0f; k.cs = full ? 1.0f : 255.0f / 224.0f;
  k.ri = s.bgr ? 2 : 0; k.bi = s.bgr ? 0 : 2;
  for (int c = 0; c < 3; c++) {
    k.a[c] = s.f32 ? s.scale / s.stdv[c] : 1.0f;
    k.b[c] = s.f32 ? -s.mean[c] / s.stdv[c] : 0.0f;
  }
  // Letterbox bands first; the content is written once, below.
  if (s.f32) {
    const float padv[3] = {s.pad * k.a[0] + k.b[0], s.pad * k.a[1] + k.b[1], s.pad * k.a[2] + k.b[2]};
    FillBands<float>(reinterpret_cast<float*>(out), s.nchw, s.width, s.height, ox, oy, cw, ch, padv);
  } else {
    const uint8_t p = (uint8_t)s.pad;
    const uint8_t padv[3] = {p, p, p};
    FillBands<uint8_t>(out, s.nchw, s.width, s.height, ox, oy, cw, ch, padv);
  }
  auto emit = [&](auto rows) {
    if (s.f32) YuvToTensor<float>(rows, cw, ch, reinterpret_cast<float*>(out), s.nchw, s.width, s.height, ox, oy, k);
    else YuvToTensor<uint8_t>(rows, cw, ch, out, s.nchw, s.width, s.height, ox, oy, k);
  };

  thread_local std::vector<uint8_t> buf;
  const size_t plane = (size_t)cw * ch;

  if (f.fmt == PixFmt::RGB24) {
    // Interleaved RGB (decoded crops, PNG/JPEG stills): each channel resampled to a plane.
    buf.resize(plane * 3 + 64);
    const Kernel& kx = CachedKernel(sw, cw, 0, sw);
    const Kernel& ky = CachedKernel(sh, ch, 0, sh);
    const uint8_t* base = f.data[0] + (size_t)r.y * f.linesize[0] + (size_t)r.x * 3;
    for (int c = 0; c < 3; c++) ResampleChannel(base + c, 3, f.linesize[0], kx, ky, buf.data() + c * plane, cw);
    if (s.f32) RgbToTensor<float>(buf.data(), buf.data() + plane, buf.data() + 2 * plane, cw, ch, reinterpret_cast<float*>(out), s.nchw, s.width, s.height, ox, oy, k);
    else RgbToTensor<uint8_t>(buf.data(), buf.data() + plane, buf.data() + 2 * plane, cw, ch, out, s.nchw, s.width, s.height, ox, oy, k);
    return true;
  }

  const uint8_t* Yp = f.data[0] + (size_t)r.y * f.linesize[0] + r.x;
  const int yls = f.linesize[0];
  const bool even = (r.x & 1) == 0 && (r.y & 1) == 0;
  if (f.fmt == PixFmt::YUV420P && even) {
    const uint8_t* Up = f.data[1] + (size_t)(r.y / 2) * f.linesize[1] + r.x / 2;
    const uint8_t* Vp = f.data[2] + (size_t)(r.y / 2) * f.linesize[2] + r.x / 2;
    const int uls = f.linesize[1], vls = f.linesize[2];
    // 4:2:0 at exactly half the size (720p into a 640-wide tensor, 1080p into 960): the chroma
    // planes are already at the content size and the luma needs one fixed 4-tap filter.
    const bool halve = sw == 2 * cw && sh == 2 * ch;
    // 4:2:0 at exactly a third (1080p into a 640-wide tensor): the luma gets its fixed 5-tap
    // filter and the chroma planes (shrunk by 3:2) their two alternating 3-tap ones.
    const bool third = !halve && sw == 3 * cw && sh == 3 * ch && (cw & 1) == 0 && (ch & 1) == 0;
    const size_t accOff = ((size_t)cw + 64 + 15) & ~(size_t)15;
    const size_t rowBytes = accOff + (3 * (size_t)cw + 2) * sizeof(uint16_t);
    if (halve) {
      buf.resize(rowBytes);
      uint8_t* row = buf.data();
      uint16_t* acc = reinterpret_cast<uint16_t*>(buf.data() + accOff);
      emit([=](int y, const uint8_t** Y, const uint8_t** U, const uint8_t** V) {
        HalveRow(Yp, yls, sh, y, acc, row, cw);
        *Y = row; *U = Up + (size_t)y * uls; *V = Vp + (size_t)y * vls;
      });
      return true;
    }
    if (third) {
      buf.resize(rowBytes + 2 * ((size_t)cw + 64) + 2 * ((3 * (size_t)cw / 2 + 2) * sizeof(uint16_t) + 16));
      uint8_t* row = buf.data();
      uint16_t* acc = reinterpret_cast<uint16_t*>(buf.data() + accOff);
      uint8_t* urow = buf.data() + rowBytes;
      uint8_t* vrow = urow + cw + 64;
      uint16_t* cacc = reinterpret_cast<uint16_t*>(buf.data() + ((rowBytes + 2 * ((size_t)cw + 64) + 15) & ~(size_t)15));
      emit([=](int y, const uint8_t** Y, const uint8_t** U, const uint8_t** V) {
        ThirdRow(Yp, yls, sh, y, acc, row, cw);
        ThreeHalvesRow(Up, uls, sh / 2, y, cacc, urow, cw);
        ThreeHalvesRow(Vp, vls, sh / 2, y, cacc, vrow, cw);
        *Y = row; *U = urow; *V = vrow;
      });
      return true;
    }
  }

  // Any ratio: the three planes resampled to 4:4:4 at the content size, chroma from its own
  // grid (centred siting; a crop at an odd pixel starts half a chroma sample in).
  buf.resize(plane * 3 + 64);
  const Kernel& kx = CachedKernel(sw, cw, 0, sw);
  const Kernel& ky = CachedKernel(sh, ch, 0, sh);
  ResampleChannel(Yp, 1, yls, kx, ky, buf.data(), cw);
  const int cx0 = r.x / 2, cy0 = r.y / 2;
  const int pw = (f.width + 1) / 2, ph = (f.height + 1) / 2;
  const int aw = std::min(pw, (r.x + r.w + 1) / 2) - cx0, ah = std::min(ph, (r.y + r.h + 1) / 2) - cy0;
  const Kernel& cx = CachedKernel(aw, cw, (r.x & 1) * 0.5, sw / 2.0);
  const Kernel& cy = CachedKernel(ah, ch, (r.y & 1) * 0.5, sh / 2.0);
  if (f.fmt == PixFmt::NV12) {
    const uint8_t* uv = f.data[1] + (size_t)cy0 * f.linesize[1] + 2 * cx0;
    ResampleChannel(uv, 2, f.linesize[1], cx, cy, buf.data() + plane, cw);
    ResampleChannel(uv + 1, 2, f.linesize[1], cx, cy, buf.data() + 2 * plane, cw);
  } else {
    ResampleChannel(f.data[1] + (size_t)cy0 * f.linesize[1] + cx0, 1, f.linesize[1], cx, cy, buf.data() + plane, cw);
    ResampleChannel(f.data[2] + (size_t)cy0 * f.linesize[2] + cx0, 1, f.linesize[2], cx, cy, buf.data() + 2 * plane, cw);
  }
  const uint8_t* base = buf.data();
  emit([base, cw, plane](int y, const uint8_t** Y, const uint8_t** U, const uint8_t** V) {
    *Y = base + (size_t)y * cw; *U = *Y + plane; *V = *Y + 2 * plane;
  });
  return true;
}

}  // namespace retinad
