#include "av_picture.h"
#ifdef RETINAD_HAVE_FFMPEG
#include <algorithm>
#include <cmath>
#include <vector>
#include "../preprocess/preprocess.h"

namespace retinad {

PicturePtr PictureFromAv(FramePtr f) {
  auto p = std::make_shared<Picture>();
  const auto fmt = static_cast<AVPixelFormat>(f->format);
  if (fmt == AV_PIX_FMT_YUV420P || fmt == AV_PIX_FMT_YUVJ420P) p->fmt = PixFmt::YUV420P;
  else if (fmt == AV_PIX_FMT_NV12) p->fmt = PixFmt::NV12;
  else if (fmt == AV_PIX_FMT_RGB24) p->fmt = PixFmt::RGB24;
  else return nullptr;
  p->width = f->width;
  p->height = f->height;
  for (int i = 0; i < p->Planes(); i++) {
    p->data[i] = f->data[i];
    p->linesize[i] = f->linesize[i];
  }
  p->full_range = f->color_range == AVCOL_RANGE_JPEG || fmt == AV_PIX_FMT_YUVJ420P || fmt == AV_PIX_FMT_RGB24;
  p->bt709 = f->colorspace == AVCOL_SPC_BT709;
  p->owner = f;
  return p;
}

FrameData FromDecoded(DecodedFrame&& df) {
  FrameData out;
  out.pic = PictureFromAv(std::move(df.frame));
  out.pts_ms = df.pts_ms;
  out.wall_ms = df.wall_ms;
  out.index = df.index;
  out.keyframe = df.keyframe;
  return out;
}

namespace {
AVPixelFormat AvFormat(const Picture& p) {
  switch (p.fmt) {
    case PixFmt::YUV420P: return p.full_range ? AV_PIX_FMT_YUVJ420P : AV_PIX_FMT_YUV420P;
    case PixFmt::NV12: return AV_PIX_FMT_NV12;
    case PixFmt::RGB24: return AV_PIX_FMT_RGB24;
  }
  return AV_PIX_FMT_NONE;
}
}  // namespace

FramePtr AvView(PicturePtr p) {
  AVFrame* f = av_frame_alloc();
  if (!f) return nullptr;
  f->format = AvFormat(*p);
  f->width = p->width;
  f->height = p->height;
  f->color_range = p->full_range ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
  f->colorspace = p->bt709 ? AVCOL_SPC_BT709 : AVCOL_SPC_SMPTE170M;
  for (int i = 0; i < p->Planes(); i++) {
    f->data[i] = p->data[i];
    f->linesize[i] = p->linesize[i];
  }
  // No buffer refs: av_frame_free releases only the struct; the picture owns the pixels.
  return FramePtr(f, [p](AVFrame* x) { av_frame_free(&x); });
}

bool EncodeImage(PicturePtr p, bool png, int quality, const Rect* crop, std::string* out, std::string* err) {
  Rect r = crop ? *crop : Rect{};
  if (!CheckCrop(*p, &r, err)) return false;
  // What the encoder reads: the decoder's 4:2:0 planes straight (JPEG; a crop starts at an even
  // pixel), else an exact RGB crop made by our own conversion (PNG, or other layouts).
  std::vector<uint8_t> rgb;
  FramePtr ef = MakeFrame();
  ef->width = r.w;
  ef->height = r.h;
  const bool direct = !png && p->fmt == PixFmt::YUV420P;
  if (direct) {
    const int x = r.x & ~1, y = r.y & ~1;
    ef->width = r.w + (r.x - x);
    ef->height = r.h + (r.y - y);
    ef->format = p->full_range ? AV_PIX_FMT_YUVJ420P : AV_PIX_FMT_YUV420P;
    ef->color_range = p->full_range ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
    ef->data[0] = p->data[0] + (size_t)y * p->linesize[0] + x;
    ef->data[1] = p->data[1] + (size_t)(y / 2) * p->linesize[1] + x / 2;
    ef->data[2] = p->data[2] + (size_t)(y / 2) * p->linesize[2] + x / 2;
    for (int i = 0; i < 3; i++) ef->linesize[i] = p->linesize[i];
  } else {
    PreprocessSpec s;
    s.width = r.w;
    s.height = r.h;
    s.letterbox = false;
    s.nchw = false;
    s.f32 = false;
    s.has_crop = true;
    s.crop = r;
    rgb.resize((size_t)r.w * r.h * 3 + 64);
    PreprocessResult res;
    if (!Preprocess(*p, s, rgb.data(), rgb.size(), &res, err)) return false;
    if (png) {
      ef->format = AV_PIX_FMT_RGB24;
      ef->data[0] = rgb.data();
      ef->linesize[0] = r.w * 3;
    } else {
      ef->format = AV_PIX_FMT_YUVJ420P;
      ef->color_range = AVCOL_RANGE_JPEG;
      if (av_frame_get_buffer(ef.get(), 0) < 0) { *err = "out of memory"; return false; }
      SwsContext* sws = sws_getContext(r.w, r.h, AV_PIX_FMT_RGB24, r.w, r.h, AV_PIX_FMT_YUVJ420P, SWS_BILINEAR | SWS_ACCURATE_RND, nullptr, nullptr, nullptr);
      if (!sws) { *err = "cannot convert pixel format for encoding"; return false; }
      const uint8_t* sp[4] = {rgb.data(), nullptr, nullptr, nullptr};
      const int sl[4] = {r.w * 3, 0, 0, 0};
      sws_scale(sws, sp, sl, 0, r.h, ef->data, ef->linesize);
      sws_freeContext(sws);
    }
  }
  const bool borrowed = direct || png;
  const AVCodec* codec = avcodec_find_encoder(png ? AV_CODEC_ID_PNG : AV_CODEC_ID_MJPEG);
  if (!codec) {
    *err = png ? "no PNG encoder in this FFmpeg" : "no JPEG encoder in this FFmpeg";
    if (borrowed) for (auto& d : ef->data) d = nullptr;
    return false;
  }
  AVCodecContext* ctx = avcodec_alloc_context3(codec);
  ctx->width = ef->width;
  ctx->height = ef->height;
  ctx->pix_fmt = static_cast<AVPixelFormat>(ef->format);
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
  int rc = avcodec_open2(ctx, codec, nullptr);
  bool ok = false;
  if (rc < 0) {
    *err = std::string("cannot open ") + codec->name + " encoder: " + AvError(rc);
  } else {
    ef->pts = 0;
    AVPacket* pkt = av_packet_alloc();
    rc = avcodec_send_frame(ctx, ef.get());
    if (rc >= 0) rc = avcodec_receive_packet(ctx, pkt);
    if (rc >= 0) {
      out->assign(reinterpret_cast<const char*>(pkt->data), pkt->size);
      ok = true;
    } else {
      *err = std::string("encoding failed: ") + AvError(rc);
    }
    av_packet_free(&pkt);
  }
  avcodec_free_context(&ctx);
  if (borrowed) for (auto& d : ef->data) d = nullptr;  // borrowed planes: not ours to free
  return ok;
}

}  // namespace retinad
#endif
