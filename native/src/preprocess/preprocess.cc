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

  // float32 from YUV: scale the planes (4:4:4 at content size, swscale's SIMD planar path), then
  // convert and normalise in one pass straight into the tensor — no RGB byte image in between,
  // no rounding of the colour to 8 bits.
  const AVPixFmtDescriptor* sd = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(f->format));
  if (s.f32 && sd && !(sd->flags & AV_PIX_FMT_FLAG_RGB) && sd->nb_components == 3) {
    const bool full = f->color_range == AVCOL_RANGE_JPEG || f->format == AV_PIX_FMT_YUVJ420P || f->format == AV_PIX_FMT_YUVJ422P || f->format == AV_PIX_FMT_YUVJ444P;
    thread_local SwsContext* sws444 = nullptr;
    thread_local std::vector<uint8_t> yuv;
    sws444 = sws_getCachedContext(sws444, sw, sh, static_cast<AVPixelFormat>(f->format), cw, ch, AV_PIX_FMT_YUV444P, SWS_BILINEAR, nullptr, nullptr, nullptr);
    if (!sws444) { *err = "cannot scale this pixel format"; return false; }
    {
      // Planes are only resampled: the same range in and out (set on every call, the context is shared).
      int* inv; int* tbl; int sr, dr, br, ct, sa;
      if (sws_getColorspaceDetails(sws444, &inv, &sr, &tbl, &dr, &br, &ct, &sa) >= 0)
        sws_setColorspaceDetails(sws444, inv, full ? 1 : 0, tbl, full ? 1 : 0, br, ct, sa);
    }
    const size_t plane = (size_t)cw * ch;
    yuv.resize(plane * 3 + 64);
    uint8_t* dst[4] = {yuv.data(), yuv.data() + plane, yuv.data() + 2 * plane, nullptr};
    int dls[4] = {cw, cw, cw, 0};
    sws_scale(sws444, src, sls, 0, sh, dst, dls);
    const bool bt709 = f->colorspace == AVCOL_SPC_BT709;
    const float kr = bt709 ? 1.5748f : 1.402f, kgb = bt709 ? 0.187324f : 0.344136f, kgr = bt709 ? 0.468124f : 0.714136f, kb = bt709 ? 1.8556f : 1.772f;
    const float ys = full ? 1.0f : 255.0f / 219.0f, yo = full ? 0.0f : 16.0f, cs = full ? 1.0f : 255.0f / 224.0f;
    float a[3], b[3];
    for (int c = 0; c < 3; c++) { a[c] = s.scale / s.stdv[c]; b[c] = -s.mean[c] / s.stdv[c]; }
    const int W = s.width, H = s.height;
    float* o = reinterpret_cast<float*>(out);
    // Output channel c takes R, G, B (or B, G, R).
    const int ri = s.bgr ? 2 : 0, bi = s.bgr ? 0 : 2;
    const float padv[3] = {s.pad * a[0] + b[0], s.pad * a[1] + b[1], s.pad * a[2] + b[2]};
    if (s.nchw) {
      for (int c = 0; c < 3; c++) {
        float* pl = o + (size_t)c * W * H;
        std::fill(pl, pl + (size_t)oy * W, padv[c]);
        std::fill(pl + (size_t)(oy + ch) * W, pl + (size_t)W * H, padv[c]);
        if (ox || cw != W)
          for (int y = oy; y < oy + ch; y++) {
            std::fill(pl + (size_t)y * W, pl + (size_t)y * W + ox, padv[c]);
            std::fill(pl + (size_t)y * W + ox + cw, pl + (size_t)(y + 1) * W, padv[c]);
          }
      }
      float* pr = o + (size_t)ri * W * H;
      float* pg = o + (size_t)1 * W * H;
      float* pb = o + (size_t)bi * W * H;
      const float ar = a[ri], br = b[ri], ag = a[1], bg = b[1], ab = a[bi], bb = b[bi];
      for (int y = 0; y < ch; y++) {
        const uint8_t* Y = yuv.data() + (size_t)y * cw;
        const uint8_t* U = Y + plane;
        const uint8_t* V = Y + 2 * plane;
        const size_t off = (size_t)(y + oy) * W + ox;
        for (int x = 0; x < cw; x++) {
          const float yy = ((float)Y[x] - yo) * ys, u = ((float)U[x] - 128.0f) * cs, v = ((float)V[x] - 128.0f) * cs;
          const float r = std::min(255.0f, std::max(0.0f, yy + kr * v));
          const float g = std::min(255.0f, std::max(0.0f, yy - kgb * u - kgr * v));
          const float bl = std::min(255.0f, std::max(0.0f, yy + kb * u));
          pr[off + x] = r * ar + br;
          pg[off + x] = g * ag + bg;
          pb[off + x] = bl * ab + bb;
        }
      }
    } else {
      if (ox || oy || cw != W || ch != H)
        for (size_t i = 0; i < (size_t)W * H; i++)
          for (int c = 0; c < 3; c++) o[i * 3 + c] = padv[c];
      for (int y = 0; y < ch; y++) {
        const uint8_t* Y = yuv.data() + (size_t)y * cw;
        const uint8_t* U = Y + plane;
        const uint8_t* V = Y + 2 * plane;
        float* d = o + ((size_t)(y + oy) * W + ox) * 3;
        for (int x = 0; x < cw; x++) {
          const float yy = ((float)Y[x] - yo) * ys, u = ((float)U[x] - 128.0f) * cs, v = ((float)V[x] - 128.0f) * cs;
          const float rgb3[3] = {std::min(255.0f, std::max(0.0f, yy + kr * v)), std::min(255.0f, std::max(0.0f, yy - kgb * u - kgr * v)),
                                 std::min(255.0f, std::max(0.0f, yy + kb * u))};
          d[x * 3 + 0] = rgb3[ri] * a[0] + b[0];
          d[x * 3 + 1] = rgb3[1] * a[1] + b[1];
          d[x * 3 + 2] = rgb3[bi] * a[2] + b[2];
        }
      }
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
