/**
 * `index.html`: one small, self-contained page (frames are JPEG files next to it, linked by
 * relative paths) with the boxes and texts drawn as SVG over each frame, where every stage ran,
 * the timings and the motion events. No script: it renders the same in any browser or headless.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DemoSummary, FrameView } from './summary.ts';
import { DEVICE_TYPE_NAME, motionText, ptsSpans, sec } from './format.ts';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function frame(f: FrameView): string {
  // The SVG shares the image's pixel coordinates (viewBox) and is stretched over it, so boxes
  // stay on their objects at any page width.
  const text = f.text.map((b) => `<rect class="text" data-kind="text" data-text="${esc(b.Text ?? '')}" data-pts="${f.pts}" x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}"/>` +
    `<text x="${b.x}" y="${Math.max(14, b.y - 4)}">${esc(b.Text ?? '')}</text>`).join('');
  const motion = f.motion.map((b) => `<rect class="motion" data-kind="motion" data-pts="${f.pts}" x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}"/>`).join('');
  return `<figure><div class="frame"><img src="${esc(f.file)}" width="${f.width}" height="${f.height}" alt="frame at ${sec(f.pts)} s">` +
    `<svg viewBox="0 0 ${f.width} ${f.height}" preserveAspectRatio="none">${motion}${text}</svg></div>` +
    `<figcaption>Pts ${f.pts} ms — ${f.text.length} text box(es), ${f.motion.length} moving region(s)</figcaption></figure>`;
}

export function renderPage(s: DemoSummary): string {
  const longest = Math.max(...s.tasks.map((t) => t.seconds), 0.1);
  const rows = s.placements.map((p) => `<tr><td>${esc(p.task)}</td><td>${esc(p.stage || '—')}</td><td>${esc(p.deviceId)}</td>` +
    `<td>${esc(p.deviceType)} (${DEVICE_TYPE_NAME[p.deviceType] ?? '?'})</td><td>${esc(p.status)}</td></tr>`).join('');
  const timings = s.tasks.map((t) => `<tr><td>${esc(t.title)}</td><td>${esc(t.status)}</td><td>${t.results}</td><td class="num">${t.seconds.toFixed(1)} s</td>` +
    `<td class="bar"><span style="width:${Math.round((t.seconds / longest) * 100)}%"></span></td></tr>`).join('');
  const texts = s.texts.map((t) => `<li data-text="${esc(t.text)}"><b>${esc(t.text)}</b> at ${ptsSpans(t.pts)} <small>(${esc(t.deviceId)}, score ${t.meanScore.toFixed(2)})</small></li>`).join('');
  const motion = s.motion.map((m) => `<li>${motionText(m)}</li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>retinad demo</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:16px;color:#222;max-width:1260px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:16px 0 6px}
table{border-collapse:collapse}td,th{padding:2px 10px 2px 0;text-align:left}th{border-bottom:1px solid #ccc}
.num{text-align:right}.bar{width:120px}.bar span{display:block;height:10px;background:#3b82f6}
.cols{display:flex;gap:28px;flex-wrap:wrap}
.frames{display:grid;grid-template-columns:1fr 1fr;gap:12px}figure{margin:0}
.frame{position:relative}.frame img{display:block;width:100%;height:auto}
.frame svg{position:absolute;inset:0;width:100%;height:100%}
rect.text{fill:none;stroke:#16a34a;stroke-width:3}rect.motion{fill:none;stroke:#f97316;stroke-width:2;stroke-dasharray:6 4}
svg text{fill:#16a34a;font:bold 16px system-ui,sans-serif;paint-order:stroke;stroke:#fff;stroke-width:3px}
figcaption{font-size:12px;color:#555}
</style></head><body>
<h1>retinad demo</h1>
<p>A scheduler and two executors (a device and an edge server) on loopback ran three tasks on <a href="${esc(path.isAbsolute(s.clip) ? pathToFileURL(s.clip).href : s.clip)}"><code>${esc(path.basename(s.clip))}</code></a>
through <code>POST /System/TaskRequest/</code> in ${s.totalSeconds.toFixed(1)} s.
<span style="color:#16a34a">■</span> recognised text <span style="color:#f97316">■</span> motion</p>
<div class="cols"><div><h2>Where each stage ran</h2>
<table id="placement"><tr><th>task</th><th>stage</th><th>DeviceID</th><th>DeviceType</th><th>status</th></tr>${rows}</table></div>
<div><h2>Timings (submitted → done)</h2>
<table id="timings"><tr><th>task</th><th>status</th><th>results</th><th>time</th><th></th></tr>${timings}</table></div></div>
<h2>Frames</h2>
<div class="frames">${s.frames.map(frame).join('')}</div>
<div class="cols"><div><h2>Recognised texts</h2><ul id="texts">${texts || '<li>none</li>'}</ul></div>
<div><h2>Motion events</h2><ul id="motion">${motion || '<li>none</li>'}</ul></div></div>
</body></html>
`;
}
