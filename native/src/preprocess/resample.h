// Separable antialiased bilinear resampling of one 8-bit channel: a triangle filter widened by the
// ratio when shrinking, pixel centres aligned — the bilinear of Pillow and of swscale — in 14-bit
// fixed point. Our own kernel, so preprocessing is the same with or without the FFmpeg libraries.
#pragma once
#include <cstdint>
#include <vector>

namespace retinad {

struct Kernel {
  int n_out = 0;
  int taps = 0;                // weights per output (the widest filter; narrower ones are zero-padded)
  std::vector<int> first;      // first source sample of each output
  std::vector<int16_t> w;      // n_out × taps weights, each row summing to 1 << 14
};

/**
 * Output i (of n_out) is centred on source coordinate off + (i + 0.5) · span / n_out, where
 * sample j covers [j, j + 1); taps that fall outside 0..n_in − 1 are dropped and the rest
 * renormalised (edges clamped, as the reference does).
 */
Kernel MakeKernel(int n_in, int n_out, double off, double span);

/**
 * MakeKernel, remembered per thread: a stream's frames all ask for the same few kernels, so they
 * are built once, not per frame. The reference stays valid for at least the next 4 calls.
 */
const Kernel& CachedKernel(int n_in, int n_out, double off, double span);

/**
 * Resamples one channel: source sample (x, y) is src[y · stride + x · step]; writes an
 * kx.n_out × ky.n_out plane at dst (row stride dstride).
 */
void ResampleChannel(const uint8_t* src, int step, int stride, const Kernel& kx, const Kernel& ky, uint8_t* dst, int dstride);

}  // namespace retinad
