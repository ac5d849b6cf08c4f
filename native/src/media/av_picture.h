// Bridges between FFmpeg's AVFrame and the core's Picture (FFmpeg builds only): decoded frames
// are wrapped without a copy, and a Picture can be lent to FFmpeg's encoders as an AVFrame.
#pragma once
#ifdef RETINAD_HAVE_FFMPEG
#include <string>
#include "av.h"
#include "picture.h"

namespace retinad {

/** The AVFrame's pixels as a Picture (the frame stays alive as its owner); null for other formats. */
PicturePtr PictureFromAv(FramePtr f);

/** A decoder frame as the FrameData JavaScript sees. */
FrameData FromDecoded(DecodedFrame&& df);

/** An AVFrame that borrows the picture's planes (and keeps the picture alive). */
FramePtr AvView(PicturePtr p);

/** Encodes `p` (optionally a crop of it) as JPEG (quality 1-100) or PNG with FFmpeg's encoders. */
bool EncodeImage(PicturePtr p, bool png, int quality, const Rect* crop, std::string* out, std::string* err);

}  // namespace retinad
#endif
