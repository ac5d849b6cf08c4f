#include "preprocess.h"
#ifdef RETINAD_HAVE_FFMPEG
#include <algorithm>
#include <cmath>
#include <vector>

namespace retinad {

// Source pointers of a crop window, honouring chroma subsampling (x, y rounded down to even).
static bool CropPointers(const AVFrame* f, Rect r, const uint8_t* data[4], int linesize[4], int* w, int* h, std::string* err) {
  auto fmt = static_cast<AVPixelFormat>(f->format);
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(fmt);
  if (!d) { *err = "unknown pixel format"; return false; }
  if (r.w <= 0 || r.h <= 0) { r = {0, 0, f->width, f->height}; }
  if (r.x < 0 || r.y < 0 || r.x + r.w > f->width || r.y + r.h > f->height) {
    *err = "crop " + std::to_string(r.x) + "," + std::to_string(r.y) + " " + std::to_string(r.w) + "x" + std::to_string(r.h) +
           " is outside the " + std::to_string(f->width) + "x" + std::to_string(f->height) + " frame";
    return false;
  }
  const int sx = d->log2_chroma_w, sy = d->log2_chroma_h;
  int x = (r.x >> sx) << sx, y = (r.y >> sy) << sy;
  *w = r.w + (r.x - x);
  *h = r.h + (r.y - y);
  for (int p = 0; p < 4; p++) {
    data[p] = nullptr;
    linesize[p] = 0;
  }
  const int planes = av_pix_fmt_count_planes(fmt);
  for (int p = 0; p < planes; p++) {
    int px = x, py = y;
    if (p == 1 || p == 2) {
      px >>= sx;
      py >>= sy;
    }
    int step = d->comp[0].step;  // bytes per pixel in packed formats
    if (d->flags & AV_PIX_FMT_FLAG_PLANAR) step = 1;
    for (int c = 0; c < d->nb_components; c++) if (d->comp[c].plane == p) { step = d->comp[c].step; break; }
    data[p] = f->data[p] + (ptrdiff_t)py * f->linesize[p] + (ptrdiff_t)px * step;
    linesize[p] = f->linesize[p];
  }
  return true;
}

static void SetColorspace(SwsContext* sws, const AVFrame* f) {
  const bool full = f->color_range == AVCOL_RANGE_JPEG || f->format == AV_PIX_FMT_YUVJ420P || f->format == AV_PIX_FMT_YUVJ422P || f->format == AV_PIX_FMT_YUVJ444P;
  const int cs = f->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709 : SWS_CS_ITU601;
  int* inv; int* tbl; int src_range, dst_range, b, c, s;
  if (sws_getColorspaceDetails(sws, &inv, &src_range, &tbl, &dst_range, &b, &c, &s) >= 0) {
    sws_setColorspaceDetails(sws, sws_getCoefficients(cs), full ? 1 : 0, tbl, 1, b, c, s);
  }
}

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

bool Preprocess(const AVFrame* f, const PreprocessSpec& s, uint8_t* out, size_t out_bytes, PreprocessResult* res, std::string* err) {
  if (s.width <= 0 || s.height <= 0) { *err = "target size must be positive"; return false; }
  const size_t need = (size_t)s.width * s.height * 3 * (s.f32 ? 4 : 1);
  if (out_bytes < need) { *err = "output buffer holds " + std::to_string(out_bytes) + " bytes; the tensor needs " + std::to_string(need); return false; }
  const uint8_t* src[4];
  int sls[4];
  int sw, sh;
  if (!CropPointers(f, s.has_crop ? s.crop : Rect{}, src, sls, &sw, &sh, err)) return false;

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

  // From YUV (float32 or uint8): scale the planes (4:4:4 at content size, swscale's SIMD planar
  // path), then convert, normalise and lay out in one vectorised pass straight into the tensor —
  // no RGB byte image in between, and for float32 no rounding of the colour to 8 bits.
  const AVPixFmtDescriptor* sd = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(f->format));
  if (sd && !(sd->flags & AV_PIX_FMT_FLAG_RGB) && sd->nb_components == 3) {
    const bool full = f->color_range == AVCOL_RANGE_JPEG || f->format == AV_PIX_FMT_YUVJ420P || f->format == AV_PIX_FMT_YUVJ422P || f->format == AV_PIX_FMT_YUVJ444P;
    // 4:2:0 at exactly half the size (720p into a 640-wide tensor, 1080p into 960): the chroma
    // planes are already at the content size and the luma needs one fixed 4-tap filter, so rows
    // come straight from the frame without swscale's generic scaler.
    const bool yuv420 = f->format == AV_PIX_FMT_YUV420P || f->format == AV_PIX_FMT_YUVJ420P;
    const bool halve = yuv420 && sw == 2 * cw && sh == 2 * ch;
    // 4:2:0 at exactly a third (1080p into a 640-wide tensor): the luma gets its fixed 5-tap
    // filter and the chroma planes (shrunk by 3:2) their two alternating 3-tap ones, no swscale.
    const bool third = yuv420 && !halve && sw == 3 * cw && sh == 3 * ch && (cw & 1) == 0 && (ch & 1) == 0;
    thread_local SwsContext* sws444 = nullptr;
    thread_local std::vector<uint8_t> yuv;
    const size_t plane = (size_t)cw * ch;
    // yuv holds: one luma row, the 16-bit column sums (aligned), then (third) the chroma planes.
    const size_t accOff = ((size_t)cw + 64 + 15) & ~(size_t)15;
    const size_t rowBytes = accOff + (3 * (size_t)cw + 2) * sizeof(uint16_t);
    if (third) {
      yuv.resize(rowBytes + 2 * ((size_t)cw + 64) + 2 * ((3 * (size_t)cw / 2 + 2) * sizeof(uint16_t) + 16));
    } else if (!halve) {
      sws444 = sws_getCachedContext(sws444, sw, sh, static_cast<AVPixelFormat>(f->format), cw, ch, AV_PIX_FMT_YUV444P, SWS_BILINEAR, nullptr, nullptr, nullptr);
      if (!sws444) { *err = "cannot scale this pixel format"; return false; }
      {
        // Planes are only resampled: the same range in and out (set on every call, the context is shared).
        int* inv; int* tbl; int sr, dr, br, ct, sa;
        if (sws_getColorspaceDetails(sws444, &inv, &sr, &tbl, &dr, &br, &ct, &sa) >= 0)
          sws_setColorspaceDetails(sws444, inv, full ? 1 : 0, tbl, full ? 1 : 0, br, ct, sa);
      }
      yuv.resize(plane * 3 + 64);
      uint8_t* dst[4] = {yuv.data(), yuv.data() + plane, yuv.data() + 2 * plane, nullptr};
      int dls[4] = {cw, cw, cw, 0};
      sws_scale(sws444, src, sls, 0, sh, dst, dls);
    } else {
      yuv.resize(rowBytes);
    }
    const uint8_t* base = yuv.data();
    auto scaled = [base, cw, plane](int y, const uint8_t** Y, const uint8_t** U, const uint8_t** V) {
      *Y = base + (size_t)y * cw; *U = *Y + plane; *V = *Y + 2 * plane;
    };
    uint8_t* row = yuv.data();
    uint16_t* acc = reinterpret_cast<uint16_t*>(yuv.data() + accOff);
    auto halved = [&src, &sls, row, acc, cw, sh](int y, const uint8_t** Y, const uint8_t** U, const uint8_t** V) {
      HalveRow(src[0], sls[0], sh, y, acc, row, cw);
      *Y = row; *U = src[1] + (size_t)y * sls[1]; *V = src[2] + (size_t)y * sls[2];
    };
    uint8_t* urow = yuv.data() + rowBytes;
    uint8_t* vrow = urow + cw + 64;
    uint16_t* cacc = reinterpret_cast<uint16_t*>(yuv.data() + ((rowBytes + 2 * ((size_t)cw + 64) + 15) & ~(size_t)15));
    auto thirded = [&src, &sls, row, acc, urow, vrow, cacc, cw, sh](int y, const uint8_t** Y, const uint8_t** U, const uint8_t** V) {
      ThirdRow(src[0], sls[0], sh, y, acc, row, cw);
      ThreeHalvesRow(src[1], sls[1], sh / 2, y, cacc, urow, cw);
      ThreeHalvesRow(src[2], sls[2], sh / 2, y, cacc, vrow, cw);
      *Y = row; *U = urow; *V = vrow;
    };
    const bool bt709 = f->colorspace == AVCOL_SPC_BT709;
    RowCoeffs k{};
    k.kr = bt709 ? 1.5748f : 1.402f; k.kgb = bt709 ? 0.187324f : 0.344136f; k.kgr = bt709 ? 0.468124f : 0.714136f; k.kb = bt709 ? 1.8556f : 1.772f;
    k.ys = full ? 1.0f : 255.0f / 219.0f; k.yo = full ? 0.0f : 16.0f; k.cs = full ? 1.0f : 255.0f / 224.0f;
    k.ri = s.bgr ? 2 : 0; k.bi = s.bgr ? 0 : 2;
    for (int c = 0; c < 3; c++) {
      k.a[c] = s.f32 ? s.scale / s.stdv[c] : 1.0f;
      k.b[c] = s.f32 ? -s.mean[c] / s.stdv[c] : 0.0f;
    }
    if (s.f32) {
      float* o = reinterpret_cast<float*>(out);
      const float padv[3] = {s.pad * k.a[0] + k.b[0], s.pad * k.a[1] + k.b[1], s.pad * k.a[2] + k.b[2]};
      FillBands<float>(o, s.nchw, s.width, s.height, ox, oy, cw, ch, padv);
      if (halve) YuvToTensor<float>(halved, cw, ch, o, s.nchw, s.width, s.height, ox, oy, k);
      else if (third) YuvToTensor<float>(thirded, cw, ch, o, s.nchw, s.width, s.height, ox, oy, k);
      else YuvToTensor<float>(scaled, cw, ch, o, s.nchw, s.width, s.height, ox, oy, k);
    } else {
      const uint8_t p = (uint8_t)s.pad;
      const uint8_t padv[3] = {p, p, p};
      FillBands<uint8_t>(out, s.nchw, s.width, s.height, ox, oy, cw, ch, padv);
      if (halve) YuvToTensor<uint8_t>(halved, cw, ch, out, s.nchw, s.width, s.height, ox, oy, k);
      else if (third) YuvToTensor<uint8_t>(thirded, cw, ch, out, s.nchw, s.width, s.height, ox, oy, k);
      else YuvToTensor<uint8_t>(scaled, cw, ch, out, s.nchw, s.width, s.height, ox, oy, k);
    }
    return true;
  }

  // RGB at content size; contexts are cached per pool thread.
  thread_local SwsContext* sws = nullptr;
  thread_local std::vector<uint8_t> rgb;
  const AVPixelFormat dst_fmt = s.bgr ? AV_PIX_FMT_BGR24 : AV_PIX_FMT_RGB24;
  sws = sws_getCachedContext(sws, sw, sh, static_cast<AVPixelFormat>(f->format), cw, ch, dst_fmt, SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, nullptr, nullptr, nullptr);
  if (!sws) { *err = "cannot scale this pixel format"; return false; }
  SetColorspace(sws, f);
  const bool direct = !s.f32 && !s.nchw && cw == s.width && ch == s.height;
  uint8_t* dst_ptr;
  int dst_ls = cw * 3;
  if (direct) {
    dst_ptr = out;  // uint8 NHWC without padding: scale straight into the tensor
  } else {
    rgb.resize((size_t)cw * ch * 3 + 64);
    dst_ptr = rgb.data();
  }
  uint8_t* dst[4] = {dst_ptr, nullptr, nullptr, nullptr};
  int dls[4] = {dst_ls, 0, 0, 0};
  sws_scale(sws, src, sls, 0, sh, dst, dls);
  if (direct) return true;

  const int W = s.width, H = s.height;
  if (!s.f32) {
    uint8_t* o = out;
    if (s.nchw) {
      for (int c = 0; c < 3; c++) std::fill(o + (size_t)c * W * H, o + (size_t)(c + 1) * W * H, (uint8_t)s.pad);
      for (int y = 0; y < ch; y++) {
        const uint8_t* row = rgb.data() + (size_t)y * cw * 3;
        for (int c = 0; c < 3; c++) {
          uint8_t* d = o + (size_t)c * W * H + (size_t)(y + oy) * W + ox;
          for (int x = 0; x < cw; x++) d[x] = row[x * 3 + c];
        }
      }
    } else {
      std::fill(o, o + (size_t)W * H * 3, (uint8_t)s.pad);
      for (int y = 0; y < ch; y++) memcpy(o + ((size_t)(y + oy) * W + ox) * 3, rgb.data() + (size_t)y * cw * 3, (size_t)cw * 3);
    }
    return true;
  }
  // float32: a 256-entry table per channel turns normalisation into a lookup.
  float lut[3][256];
  for (int c = 0; c < 3; c++)
    for (int v = 0; v < 256; v++) lut[c][v] = (v * s.scale - s.mean[c]) / s.stdv[c];
  float* o = reinterpret_cast<float*>(out);
  if (s.nchw) {
    for (int c = 0; c < 3; c++) {
      float* plane = o + (size_t)c * W * H;
      const float padv = lut[c][s.pad & 255];
      // Fill only the letterbox bands: the content is written once, below.
      std::fill(plane, plane + (size_t)oy * W, padv);
      std::fill(plane + (size_t)(oy + ch) * W, plane + (size_t)W * H, padv);
      if (ox || cw != W)
        for (int y = oy; y < oy + ch; y++) {
          std::fill(plane + (size_t)y * W, plane + (size_t)y * W + ox, padv);
          std::fill(plane + (size_t)y * W + ox + cw, plane + (size_t)(y + 1) * W, padv);
        }
      for (int y = 0; y < ch; y++) {
        const uint8_t* row = rgb.data() + (size_t)y * cw * 3 + c;
        float* d = plane + (size_t)(y + oy) * W + ox;
        for (int x = 0; x < cw; x++) d[x] = lut[c][row[x * 3]];
      }
    }
  } else {
    if (ox || oy || cw != W || ch != H)
      for (size_t i = 0; i < (size_t)W * H; i++)
        for (int c = 0; c < 3; c++) o[i * 3 + c] = lut[c][s.pad & 255];
    for (int y = 0; y < ch; y++) {
      const uint8_t* row = rgb.data() + (size_t)y * cw * 3;
      float* d = o + ((size_t)(y + oy) * W + ox) * 3;
      for (int x = 0; x < cw * 3; x++) d[x] = lut[x % 3][row[x]];
    }
  }
  return true;
}

bool EncodeImage(const AVFrame* f, bool png, int quality, const Rect* crop, std::string* out, std::string* err) {
  const uint8_t* src[4];
  int sls[4];
  int sw, sh;
  if (!CropPointers(f, crop ? *crop : Rect{}, src, sls, &sw, &sh, err)) return false;
  const AVPixelFormat sfmt = static_cast<AVPixelFormat>(f->format);
  const bool full = f->color_range == AVCOL_RANGE_JPEG || sfmt == AV_PIX_FMT_YUVJ420P;
  const AVPixelFormat efmt = png ? AV_PIX_FMT_RGB24 : (full ? AV_PIX_FMT_YUVJ420P : AV_PIX_FMT_YUV420P);
  FramePtr ef = MakeFrame();
  ef->format = efmt;
  ef->width = sw;
  ef->height = sh;
  ef->color_range = png || full ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
  const bool same = (sfmt == efmt) || (!png && (sfmt == AV_PIX_FMT_YUV420P || sfmt == AV_PIX_FMT_YUVJ420P));
  if (same) {
    // Encode straight from the decoder's planes (no copy): point the frame at the crop window.
    for (int p = 0; p < 4; p++) {
      ef->data[p] = const_cast<uint8_t*>(src[p]);
      ef->linesize[p] = sls[p];
    }
  } else {
    if (av_frame_get_buffer(ef.get(), 0) < 0) { *err = "out of memory"; return false; }
    SwsContext* sws = sws_getContext(sw, sh, sfmt, sw, sh, efmt, SWS_BILINEAR | SWS_ACCURATE_RND, nullptr, nullptr, nullptr);
    if (!sws) { *err = "cannot convert pixel format for encoding"; return false; }
    SetColorspace(sws, f);
    sws_scale(sws, src, sls, 0, sh, ef->data, ef->linesize);
    sws_freeContext(sws);
  }
  const AVCodec* codec = avcodec_find_encoder(png ? AV_CODEC_ID_PNG : AV_CODEC_ID_MJPEG);
  if (!codec) { *err = png ? "no PNG encoder in this FFmpeg" : "no JPEG encoder in this FFmpeg"; if (same) for (auto& d : ef->data) d = nullptr; return false; }
  AVCodecContext* ctx = avcodec_alloc_context3(codec);
  ctx->width = sw;
  ctx->height = sh;
  ctx->pix_fmt = efmt;
  ctx->time_base = AVRational{1, 25};
  ctx->color_range = ef->color_range;
  if (!png) {
    // JPEG quality 1..100 → mjpeg qscale 31..2 (ffmpeg's -q:v scale).
    const int q = std::max(2, std::min(31, (int)std::lround(2 + (100 - std::max(1, std::min(100, quality))) * 29 / 99.0)));
    ctx->flags |= AV_CODEC_FLAG_QSCALE;
    ctx->global_quality = q * FF_QP2LAMBDA;
    ctx->strict_std_compliance = FF_COMPLIANCE_UNOFFICIAL;  // limited-range yuv420p without a copy
    ef->quality = ctx->global_quality;
  }
  int r = avcodec_open2(ctx, codec, nullptr);
  bool ok = false;
  if (r < 0) {
    *err = std::string("cannot open ") + codec->name + " encoder: " + AvError(r);
  } else {
    ef->pts = 0;
    AVPacket* pkt = av_packet_alloc();
    r = avcodec_send_frame(ctx, ef.get());
    if (r >= 0) r = avcodec_receive_packet(ctx, pkt);
    if (r >= 0) {
      out->assign(reinterpret_cast<const char*>(pkt->data), pkt->size);
      ok = true;
    } else {
      *err = std::string("encoding failed: ") + AvError(r);
    }
    av_packet_free(&pkt);
  }
  avcodec_free_context(&ctx);
  if (same) for (auto& d : ef->data) d = nullptr;  // borrowed planes: not ours to free
  return ok;
}

}  // namespace retinad
#endif
