/** Percentiles of a list of latencies (ms), as Triton's perf_analyzer reports them. */
export interface Percentiles { p50: number; p90: number; p99: number }

/** Nearest-rank percentiles, rounded to 0.1 ms; zeros for an empty list. */
export function percentiles(xs: number[]): Percentiles {
  if (!xs.length) return { p50: 0, p90: 0, p99: 0 };
  const s = [...xs].sort((a, b) => a - b);
  // For 1 ≤ p ≤ 100 the rank is in 0..s.length-1, and s is not empty.
  const at = (p: number) => Math.round(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! * 10) / 10;
  return { p50: at(50), p90: at(90), p99: at(99) };
}
