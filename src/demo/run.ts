/**
 * `retinad demo` (what `npm start` runs): makes a clip with signs and moving objects, starts a
 * scheduler, a device executor and an edge executor as processes on loopback, publishes the
 * signed example plugins, runs frame extraction, a two-stage text recognition (detect on the
 * device, recognise on the edge) and motion detection through the standard's HTTP interfaces,
 * prints where everything ran and what it found, and writes `index.html` showing it.
 * Every process it started is stopped before it returns, also on error or Ctrl-C.
 */
import { mkdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { CLIP, SIGNS, makeDemoClip } from './clip.ts';
import { ProcessSet } from './processes.ts';
import { PACKAGES, ensureExamples, examplePath, publishExample, startDemoCluster, type DemoCluster } from './cluster.ts';
import { demoTasks, readResults, submit, waitEnd, STATUS_NAME, type TaskRun } from './tasks.ts';
import { frameViews, motionEvents, placements, taskSummaries, textsSeen, type DemoSummary } from './summary.ts';
import { renderPage } from './page.ts';
import { DEVICE_TYPE_NAME } from './format.ts';
import { reportLines } from './report.ts';
import { imageInfoPts } from '../protocol/index.ts';

export interface DemoOptions {
  /** A video of the user's instead of the generated clip. */
  clip?: string;
  /** Output folder (default ./demo-output). */
  out?: string;
  /** Print nothing but errors (tests). */
  quiet?: boolean;
}

export interface DemoOutcome {
  code: number;
  summary?: DemoSummary;
  /** Pids of every process the demo started (all stopped when this resolves). */
  pids: number[];
}

/** What a previous run left that would confuse this one (old task records, old frames). */
const STALE = ['frames', 'scheduler', 'demo-device', 'demo-edge', 'index.html', 'summary.json', 'scheduler.log', 'demo-device.log', 'demo-edge.log'];

export async function runDemo(o: DemoOptions): Promise<number> {
  return (await runDemoDetailed(o)).code;
}

export async function runDemoDetailed(o: DemoOptions): Promise<DemoOutcome> {
  const say = (s: string) => { if (!o.quiet) process.stdout.write(s + '\n'); };
  const t0 = Date.now();
  if (o.clip && !existsSync(o.clip)) {
    process.stderr.write(`retinad demo: --clip: no such file ${o.clip}\n`);
    return { code: 2, pids: [] };
  }
  const out = path.resolve(o.out ?? 'demo-output');
  const shown = path.relative(process.cwd(), out) || '.';
  for (const f of STALE) rmSync(path.join(out, f), { recursive: true, force: true });
  mkdirSync(out, { recursive: true });

  const procs = new ProcessSet();
  const abort = new AbortController();
  let cluster: DemoCluster | undefined;
  const stopAll = async () => {
    await procs.stopAll();
    await cluster?.client.close();
  };
  const onSignal = (sig: NodeJS.Signals) => {
    process.stderr.write(`\nretinad demo: ${sig}, stopping every process it started…\n`);
    abort.abort();
    void stopAll().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let summary: DemoSummary | undefined;
  try {
    let clip: string;
    if (o.clip) {
      clip = path.resolve(o.clip);
      say(`clip       ${o.clip} (yours)`);
    } else {
      clip = path.join(out, 'clip.mp4');
      await makeDemoClip(clip, abort.signal);
      say(`clip       ${path.relative(process.cwd(), clip)}: ${CLIP.seconds} s ${CLIP.width}x${CLIP.height}, signs ${SIGNS.map((s) => `"${s.text}"${s.fromSec ? ` (from ${s.fromSec} s)` : ''}`).join(', ')}, three moving objects`);
    }
    ensureExamples();

    cluster = await startDemoCluster(out, procs);
    say(`scheduler  ${cluster.scheduler.url}  (pid ${cluster.scheduler.pid})`);
    for (const e of cluster.executors) say(`executor   ${e.id.padEnd(12)} DeviceType ${e.deviceType} (${DEVICE_TYPE_NAME[e.deviceType ?? ''] ?? '?'})  ${e.url}  (pid ${e.pid})`);
    const published: DemoSummary['published'] = [];
    for (const file of PACKAGES) {
      const url = await publishExample(cluster, file);
      published.push({ file, algFileUrl: url });
      say(`published  ${file} → ${url}`);
    }
    say(`           (the same as: npx retinad-plugin publish ${examplePath(PACKAGES[0])} --scheduler ${cluster.scheduler.url} --token $RETINAD_TOKEN)`);

    // All three at once: the executors' plugin workers and decoders share the cores better than
    // one task after another, and the demo stays within its minute on two cores.
    const specs = demoTasks([clip]);
    const deadline = Date.now() + (o.clip ? 600_000 : 120_000);
    const c = cluster;
    const runs: TaskRun[] = await Promise.all(specs.map(async (spec) => {
      const { taskId, submittedAt } = await submit(c.client, c.scheduler.url, spec);
      say(`submitted  ${spec.title.padEnd(38)} TaskID ${taskId}`);
      let doneAt = submittedAt;
      const info = await waitEnd(c.client, c.scheduler.url, taskId, deadline, (i) => {
        doneAt = Date.now();
        const subs = (i.SubtaskInfoList ?? []).map((s) => `${s.TaskExecutor.DeviceID} ${STATUS_NAME[s.TaskStatusInfo.ExecutionStatus]}`).join(', ');
        say(`  ${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s  ${spec.title.padEnd(38)} ${STATUS_NAME[i.ExecutionStatus]}${subs ? `: ${subs}` : ''}`);
      });
      return { spec, taskId, submittedAt, doneAt, info, results: await readResults(c.client, c.scheduler.url, taskId) };
    }));

    const byKey = (k: TaskRun['spec']['key']) => runs.find((r) => r.spec.key === k);
    const frames = writeFrames(out, byKey('frames'));
    summary = {
      clip: o.clip ? clip : path.relative(out, clip),
      nodes: [cluster.scheduler, ...cluster.executors].map((n) => ({ role: n.role, id: n.id, deviceType: n.deviceType, url: n.url, pid: n.pid })),
      published,
      tasks: taskSummaries(runs),
      placements: placements(runs),
      texts: textsSeen(byKey('text')),
      motion: motionEvents(byKey('motion')),
      frames: frameViews(frames, byKey('text'), byKey('motion')),
      totalSeconds: 0,
      ok: runs.every((r) => r.info.ExecutionStatus === 0 && r.results.length > 0),
      stillRunning: [],
    };
  } catch (err) {
    if (!abort.signal.aborted) process.stderr.write(`retinad demo: ${(err as Error).message}\n`);
  } finally {
    await stopAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const pids = procs.pids();
  const running = procs.running();
  if (running.length) process.stderr.write(`retinad demo: processes still running: ${running.join(' ')}\n`);
  if (!summary) return { code: 1, pids };
  summary.totalSeconds = (Date.now() - t0) / 1000;
  summary.stillRunning = running;
  writeFileSync(path.join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  writeFileSync(path.join(out, 'index.html'), renderPage(summary));
  for (const l of reportLines(summary, shown)) say(l);
  return { code: summary.ok && !running.length ? 0 : 1, summary, pids };
}

/** Writes the extracted JPEGs as `frames/pts-NNNNN.jpg`; their names, times and sizes. */
function writeFrames(out: string, run: TaskRun | undefined): Array<{ pts: number; file: string; width: number; height: number }> {
  const dir = path.join(out, 'frames');
  mkdirSync(dir, { recursive: true });
  const frames: Array<{ pts: number; file: string; width: number; height: number }> = [];
  for (const r of run?.results ?? []) {
    const img = r.TaskResultData.ImageResult;
    if (!img?.ImageData) continue;
    const pts = imageInfoPts(img.ImageInfo) ?? frames.length * 1000;
    const dim = (k: 'Width' | 'Height', def: number) => { const v = img.ImageInfo?.[k]; return typeof v === 'number' ? v : def; };
    const file = `frames/pts-${String(pts).padStart(6, '0')}.jpg`;
    writeFileSync(path.join(out, file), Buffer.from(img.ImageData, 'base64'));
    frames.push({ pts, file, width: dim('Width', CLIP.width), height: dim('Height', CLIP.height) });
  }
  return frames;
}
