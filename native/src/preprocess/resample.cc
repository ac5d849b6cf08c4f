#include "resample.h"
#include <algorithm>
#include <cmath>

namespace retinad {

Kernel MakeKernel(int n_in, int n_out, double off, double span) {
  Kernel k;
  k.n_out = n_out;
  const double ratio = span / n_out;
  const double support = std::max(1.0, ratio);
  std::vector<std::vector<std::pair<int, double>>> rows(n_out);
  int taps = 1;
  for (int i = 0; i < n_out; i++) {
    const double centre = off + (i + 0.5) * ratio;
    const int lo = std::max(0, (int)std::floor(centre - support));
    const int hi = std::min(n_in - 1, (int)std::ceil(centre + support));
    double sum = 0;
    for (int j = lo; j <= hi; j++) {
      const double w = 1.0 - std::fabs(j + 0.5 - centre) / support;
      if (w > 0) { rows[i].push_back({j, w}); sum += w; }
    }
    if (rows[i].empty()) {
      rows[i].push_back({std::min(n_in - 1, std::max(0, (int)std::floor(centre))), 1.0});
      sum = 1;
    }
    for (auto& p : rows[i]) p.second /= sum;
    taps = std::max(taps, rows[i].back().first - rows[i].front().first + 1);
  }
  taps = std::min(taps, n_in);
  k.taps = taps;
  k.first.resize(n_out);
  k.w.assign((size_t)n_out * taps, 0);
  for (int i = 0; i < n_out; i++) {
    const int first = std::min(rows[i].front().first, n_in - taps);
    k.first[i] = first;
    int16_t* w = &k.w[(size_t)i * taps];
    int total = 0, big = 0;
    for (auto& [j, v] : rows[i]) {
      const int q = (int)std::lround(v * (1 << 14));
      w[j - first] = (int16_t)q;
      total += q;
      if (q > w[big]) big = j - first;
    }
    w[big] = (int16_t)(w[big] + ((1 << 14) - total));  // exact unit gain: flat areas stay flat
  }
  return k;
}

const Kernel& CachedKernel(int n_in, int n_out, double off, double span) {
  struct Entry { int n_in = -1, n_out = -1; double off = 0, span = 0; Kernel k; };
  // 8 slots replaced in turn: one preprocess asks for at most 4, so none of its own is evicted.
  thread_local Entry slots[8];
  thread_local int next = 0;
  for (Entry& e : slots)
    if (e.n_in == n_in && e.n_out == n_out && e.off == off && e.span == span) return e.k;
  Entry& e = slots[next];
  next = (next + 1) % 8;
  e.n_in = n_in; e.n_out = n_out; e.off = off; e.span = span;
  e.k = MakeKernel(n_in, n_out, off, span);
  return e.k;
}

void ResampleChannel(const uint8_t* src, int step, int stride, const Kernel& kx, const Kernel& ky, uint8_t* dst, int dstride) {
  const int dw = kx.n_out, dh = ky.n_out;
  const int y0 = ky.first.front(), y1 = ky.first.back() + ky.taps;  // source rows the output needs
  thread_local std::vector<uint16_t> tmp;
  thread_local std::vector<int32_t> acc;
  tmp.resize((size_t)(y1 - y0) * dw);
  acc.resize(dw);
  // Horizontal pass: 8-bit samples → 15-bit (7 fractional bits), one row of dw per source row.
  const int tx = kx.taps;
  for (int y = y0; y < y1; y++) {
    const uint8_t* s = src + (size_t)y * stride;
    uint16_t* __restrict t = tmp.data() + (size_t)(y - y0) * dw;
    if (tx == 1 && step == 1) {
      for (int x = 0; x < dw; x++) t[x] = (uint16_t)(s[kx.first[x]] << 7);
      continue;
    }
    for (int x = 0; x < dw; x++) {
      const uint8_t* p = s + (size_t)kx.first[x] * step;
      const int16_t* w = &kx.w[(size_t)x * tx];
      int32_t v = 0;
      for (int k = 0; k < tx; k++) v += w[k] * p[k * step];
      t[x] = (uint16_t)((v + 64) >> 7);
    }
  }
  // Vertical pass: weighted rows summed in 32 bits (≤ 255 · 2^21), then rounded back to 8 bits.
  const int ty = ky.taps;
  for (int y = 0; y < dh; y++) {
    int32_t* __restrict a = acc.data();
    std::fill(a, a + dw, 1 << 20);
    const int16_t* w = &ky.w[(size_t)y * ty];
    for (int k = 0; k < ty; k++) {
      const int32_t wk = w[k];
      if (!wk) continue;
      const uint16_t* __restrict t = tmp.data() + (size_t)(ky.first[y] + k - y0) * dw;
      for (int x = 0; x < dw; x++) a[x] += wk * t[x];
    }
    uint8_t* __restrict d = dst + (size_t)y * dstride;
    for (int x = 0; x < dw; x++) d[x] = (uint8_t)std::min(255, std::max(0, a[x] >> 21));
  }
}

}  // namespace retinad
