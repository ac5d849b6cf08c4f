/** The demo's console report, from the summary: placement, texts with their times, motion, timings. */
import { DEVICE_TYPE_NAME, motionText, ptsSpans } from './format.ts';
import type { DemoSummary } from './summary.ts';

const pad = (s: string, n: number) => s.padEnd(n);

export function reportLines(s: DemoSummary, outDir: string): string[] {
  const lines: string[] = ['', 'where each stage ran'];
  lines.push(`  ${pad('task', 40)}${pad('stage', 11)}${pad('DeviceID', 13)}DeviceType`);
  for (const p of s.placements) lines.push(`  ${pad(p.task, 40)}${pad(p.stage || '—', 11)}${pad(p.deviceId, 13)}${p.deviceType} (${DEVICE_TYPE_NAME[p.deviceType] ?? '?'})`);

  lines.push('', 'recognised texts, with the frame times (Pts) they were read at');
  if (!s.texts.length) lines.push('  none');
  // A long clip of the user's can hold hundreds of strings; the page and summary.json have them all.
  const MAX = 20;
  for (const t of s.texts.slice(0, MAX)) lines.push(`  ${pad(JSON.stringify(t.text), 14)} at ${ptsSpans(t.pts)}  (read on ${t.deviceId}, mean score ${t.meanScore.toFixed(2)})`);
  if (s.texts.length > MAX) lines.push(`  … and ${s.texts.length - MAX} more in summary.json`);

  lines.push('', 'motion events');
  if (!s.motion.length) lines.push('  none');
  for (const m of s.motion) lines.push(`  ${motionText(m)}`);

  lines.push('', 'summary');
  for (const t of s.tasks) {
    lines.push(`  ${pad(t.title, 40)}${pad(t.status, 6)}${String(t.results).padStart(4)} results  ${t.seconds.toFixed(1).padStart(5)} s (submitted → done)`);
    if (t.failure) lines.push(`    failure: ${t.failure}`);
  }
  const stopped = s.stillRunning.length ? `STILL RUNNING: pids ${s.stillRunning.join(' ')}` : 'every process stopped';
  lines.push(`  ${s.ok ? 'all three tasks done' : 'NOT all tasks done'} in ${s.totalSeconds.toFixed(1)} s from start; ${stopped}.`);
  lines.push(`  page:    ${outDir}/index.html`, `  summary: ${outDir}/summary.json`, `  logs:    ${outDir}/*.log`);
  return lines;
}
