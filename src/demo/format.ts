/** Small formatting shared by the console report and the page. */

export const DEVICE_TYPE_NAME: Record<string, string> = { 0: 'device', 1: 'edge', 2: 'cloud' };

/** Milliseconds as seconds with one decimal. */
export const sec = (ms: number): string => (ms / 1000).toFixed(1);

/**
 * Frame times as spans, "0.0–7.0 s" rather than eight numbers: times closer than 1.5 sampling
 * steps belong to the same span. `stepMs` is the task's sampling interval.
 */
export function ptsSpans(pts: number[], stepMs = 1000): string {
  const spans: Array<[number, number]> = [];
  for (const p of [...pts].sort((a, b) => a - b)) {
    const last = spans[spans.length - 1];
    if (last && p - last[1] <= stepMs * 1.5) last[1] = p;
    else spans.push([p, p]);
  }
  return spans.map(([a, b]) => (a === b ? sec(a) : `${sec(a)}–${sec(b)}`)).join(', ') + ' s';
}

/** One motion event in words, for the console and the page. */
export function motionText(m: { fromMs: number; toMs: number; maxRegions: number; maxChangedPct: number }): string {
  const when = m.fromMs === m.toMs ? `${sec(m.fromMs)} s` : `${sec(m.fromMs)}–${sec(m.toMs)} s`;
  return `${when}: up to ${m.maxRegions} moving region${m.maxRegions === 1 ? '' : 's'}, ${m.maxChangedPct} % of the picture changed`;
}
