/**
 * Frame extraction throughput, with baselines measured in the same run:
 *  - raw ffmpeg doing the same decode → fps sample → JPEG work with its output discarded;
 *  - each frame source (ffmpeg-pipe and native) sampling the same clip and producing JPEGs;
 *  - the whole path: TaskRequest → scheduler → executor → outbox → results stored in SQLite.
 * Ratio > 1 means faster than the baseline. Writes bench/results/frame-extraction.{json,md}.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeSampleClip } from '../src/demo.ts';
import { ffmpegPath } from '../src/runtime/ffmpeg-binary.ts';
import { samplerArgs } from '../src/runtime/frame-sampler.ts';
import { openFrameSource } from '../src/runtime/media/frame-source.ts';
import { nativeDecoding } from '../src/runtime/media/native.ts';
import { startCluster, waitFor } from '../test/helpers/cluster.ts';
import type { TaskInfo } from '../src/protocol/index.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const FPS = 5;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN; // NaN for no runs

function rawFfmpeg(clip: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const c = spawn(ffmpegPath(), samplerArgs({ url: clip, fps: FPS }).map((a) => (a === 'info' ? 'error' : a.replace(',showinfo', ''))), { stdio: ['ignore', 'pipe', 'ignore'] });
    c.stdout.resume();
    c.on('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`ffmpeg exit ${code}`))));
  });
}

/** A frame source doing the executor's job: sample at FPS and produce a JPEG per frame. */
async function source(clip: string, backend: 'native' | 'pipe'): Promise<{ ms: number; frames: number }> {
  const t0 = performance.now();
  const s = openFrameSource({ url: pathToFileURL(clip).href, fps: FPS }, backend);
  let frames = 0;
  for (;;) {
    const f = await s.next();
    if (!f) break;
    await f.jpeg(90);
    f.release();
    frames++;
  }
  s.close();
  return { ms: performance.now() - t0, frames };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'retinad-bench-'));
  const rows: Array<Record<string, unknown>> = [];
  const cluster = await startCluster(path.join(dir, 'cluster'), 1, { keepaliveSec: 5 });
  try {
    for (const [name, size] of [['720p H.264', '1280x720'], ['1080p H.264', '1920x1080']] as const) {
      const clip = path.join(dir, `${size}.mp4`);
      makeSampleClip(clip, 'testsrc2', 10, size);
      const raw: number[] = [];
      const ours: number[] = [];
      const nat: number[] = [];
      const e2e: number[] = [];
      let frames = 0;
      for (let i = 0; i < RUNS; i++) {
        raw.push(await rawFfmpeg(clip));
        const s = await source(clip, 'pipe');
        ours.push(s.ms);
        frames = s.frames;
        if (nativeDecoding()) nat.push((await source(clip, 'native')).ms);
        const t0 = performance.now();
        const r = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, {
          TaskName: 'bench', TaskType: 1, InitiationInfo: { DeviceID: 'bench', CustomInfo: { Inputs: [{ StreamURL: pathToFileURL(clip).href }], AlgType: 'frame_extraction', TaskFrameRate: FPS } },
        });
        const id = (r.body as { TaskID: string }).TaskID;
        await waitFor('bench task', async () => {
          const x = await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskInfo/${id}`);
          const ti = (x.body as { TaskInfo: TaskInfo }).TaskInfo;
          return ti.ExecutionStatus === 0 ? true : ti.ExecutionStatus === 4 ? Promise.reject(new Error('bench task failed')) : undefined;
        }, 120_000, 20);
        e2e.push(performance.now() - t0);
      }
      const rawMs = median(raw);
      const oursMs = median(ours);
      const e2eMs = median(e2e);
      rows.push({
        clip: `${name} ${size} 10 s, sampled at ${FPS} fps → ${frames} JPEGs`,
        rawFfmpegMs: Math.round(rawMs), pipeMs: Math.round(oursMs), pipeVsRaw: +(rawMs / oursMs).toFixed(2),
        nativeMs: nat.length ? Math.round(median(nat)) : null, nativeVsRaw: nat.length ? +(rawMs / median(nat)).toFixed(2) : null,
        endToEndMs: Math.round(e2eMs), endToEndVsRaw: +(rawMs / e2eMs).toFixed(2),
        endToEndFramesPerSec: +((frames * 1000) / e2eMs).toFixed(1),
      });
      console.log(rows[rows.length - 1]);
    }
  } finally {
    await cluster.stop();
  }
  const out = path.resolve(import.meta.dirname, 'results');
  mkdirSync(out, { recursive: true });
  const meta = { date: new Date().toISOString(), cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, runs: RUNS };
  writeFileSync(path.join(out, 'frame-extraction.json'), JSON.stringify({ meta, rows }, null, 2) + '\n');
  const md = [
    `Frame extraction (${meta.cores} cores, ${meta.cpu}; median of ${RUNS}; ${meta.date.slice(0, 10)})`, '',
    '| clip | raw ffmpeg | pipe source | ratio | native source | ratio | TaskRequest → stored results | ratio | results/s |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.clip} | ${r.rawFfmpegMs} ms | ${r.pipeMs} ms | ${r.pipeVsRaw}× | ${r.nativeMs ?? '–'} ms | ${r.nativeVsRaw ?? '–'}× | ${r.endToEndMs} ms | ${r.endToEndVsRaw}× | ${r.endToEndFramesPerSec} |`),
  ].join('\n');
  writeFileSync(path.join(out, 'frame-extraction.md'), md + '\n');
  console.log(md);
}

await main();
