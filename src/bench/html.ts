/**
 * bench.html: the report as one self-contained page — inline SVG charts (fps vs streams, latency
 * split bars) drawn here, no chart library, no network.
 */
import type { BenchReport, PluginReport } from './report.ts';
import { STAGES } from './plugin-scaling.ts';
import { formatTable } from './table.ts';

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const COLOURS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2'];

/** fps (y) against streams (x, log2 spaced), one polyline with labelled points. */
function fpsChart(p: PluginReport): string {
  const W = 420, H = 220, L = 48, B = 32, T = 16, R = 16;
  const xs = p.steps.map((s) => s.streams);
  const maxFps = Math.max(...p.steps.map((s) => s.fps), 0.001) * 1.15;
  const x = (i: number) => L + (xs.length === 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (xs.length - 1));
  const y = (v: number) => H - B - (v / maxFps) * (H - B - T);
  const pts = p.steps.map((s, i) => `${x(i).toFixed(1)},${y(s.fps).toFixed(1)}`).join(' ');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" role="img" aria-label="fps vs streams">
<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#888"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#888"/>
<text x="${(W + L) / 2}" y="${H - 4}" text-anchor="middle" font-size="12">streams</text><text x="12" y="${(H - B + T) / 2}" font-size="12" transform="rotate(-90 12 ${(H - B + T) / 2})" text-anchor="middle">frames/s</text>
<polyline fill="none" stroke="${COLOURS[0]}" stroke-width="2" points="${pts}"/>
${p.steps.map((s, i) => `<circle cx="${x(i).toFixed(1)}" cy="${y(s.fps).toFixed(1)}" r="3.5" fill="${COLOURS[0]}"/><text x="${x(i).toFixed(1)}" y="${(y(s.fps) - 8).toFixed(1)}" text-anchor="middle" font-size="11">${s.fps}</text><text x="${x(i).toFixed(1)}" y="${H - B + 14}" text-anchor="middle" font-size="11">${s.streams}</text>`).join('\n')}
</svg>`;
}

/** One stacked bar per step: p50 ms of each stage. */
function splitChart(p: PluginReport): string {
  const W = 500, rowH = 22, L = 70, R = 60, T = 8;
  const H = T + p.steps.length * rowH + 40;
  const total = (s: PluginReport['steps'][number]) => STAGES.reduce((a, st) => a + s.latencyMs[st].p50, 0);
  const max = Math.max(...p.steps.map(total), 0.001);
  const bars = p.steps.map((s, i) => {
    let x0 = L;
    const y0 = T + i * rowH;
    const segs = STAGES.map((st, k) => {
      const w = (s.latencyMs[st].p50 / max) * (W - L - R);
      const r = `<rect x="${x0.toFixed(1)}" y="${y0}" width="${Math.max(0, w).toFixed(1)}" height="${rowH - 6}" fill="${COLOURS[k]}"><title>${st} p50 ${s.latencyMs[st].p50} ms</title></rect>`;
      x0 += w;
      return r;
    }).join('');
    return `<text x="${L - 6}" y="${y0 + 12}" text-anchor="end" font-size="11">${s.streams} stream${s.streams > 1 ? 's' : ''}</text>${segs}<text x="${(x0 + 4).toFixed(1)}" y="${y0 + 12}" font-size="11">${total(s).toFixed(1)} ms</text>`;
  }).join('\n');
  const legend = STAGES.map((st, k) => `<rect x="${L + k * 84}" y="${H - 24}" width="10" height="10" fill="${COLOURS[k]}"/><text x="${L + k * 84 + 14}" y="${H - 15}" font-size="11">${st}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" role="img" aria-label="latency split p50">\n${bars}\n${legend}\n</svg>`;
}

/** The whole page. */
export function formatHtml(r: BenchReport): string {
  const plugins = r.plugins.map((p) => `<h2>${esc(p.AlgType)} ${esc(p.AlgVersion)} (AlgID ${p.AlgID})</h2>
<div class="charts"><figure>${fpsChart(p)}<figcaption>Frames per second vs concurrent streams</figcaption></figure>
<figure>${splitChart(p)}<figcaption>Where a frame's time goes (p50, ms)</figcaption></figure></div>
<p>Utilisation: ${p.achievedGflops} GFLOP/s achieved of ${p.peak.gflops} GFLOP/s (${p.peak.source}, ${esc(p.peak.device)}): <b>${p.utilisationPct} %</b></p>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>retinad bench · ${esc(r.meta.host)} · ${esc(r.meta.date)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:60em}pre{background:#f6f6f6;padding:1em;overflow:auto}.charts{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0}figcaption{font-size:12px;color:#555}</style>
</head><body>
<h1>retinad bench</h1>
<p>${esc(r.meta.date)} · ${esc(r.meta.host)} · ${esc(r.meta.cpu)} × ${r.meta.cores} · load ${r.meta.loadavg.map((x) => x.toFixed(2)).join(' ')}${r.meta.quick ? ' · quick run' : ''}</p>
${plugins}
<h2>All numbers</h2>
<pre>${esc(formatTable(r))}</pre>
</body></html>
`;
}
