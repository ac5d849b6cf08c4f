/**
 * Native media core vs ffmpeg, measured in one run on the same clips (issue: native media core):
 *  1. decode fps: native decoder (every frame) vs `ffmpeg -threads N -i clip -f null -`;
 *  2. decode + preprocess every frame to a 640×640 float32 tensor: native vs ffmpeg's plain decode,
 *     and vs the pipe backend doing the same job (the ffmpeg binary decodes and pipes raw 4:2:0,
 *     the same native core preprocesses: only decoding differs);
 *  3. CPU time per stream for a 1080p25 source sampled at 5 fps (cores used per live stream).
 * The baseline ffmpeg is /usr/bin/ffmpeg when present (same libavcodec as the addon), else the
 * bundled binary; the JSON names which. Writes bench/results/decode.{json,md}.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ffmpegPath } from '../src/runtime/ffmpeg-binary.ts';
import { openFrameSource } from '../src/runtime/media/frame-source.ts';
import { checkPreprocessSpec, tensorBytes } from '../src/runtime/media/preprocess-spec.ts';
import { nativeDecoding } from '../src/runtime/media/native.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const THREADS = os.cpus().length;
const baselineFfmpeg = process.env.RETINAD_BENCH_FFMPEG ?? (existsSync('/usr/bin/ffmpeg') ? '/usr/bin/ffmpeg' : ffmpegPath());
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN; // NaN for no runs
const cache = path.join(os.tmpdir(), 'retinad-bench-clips');
mkdirSync(cache, { recursive: true });

function makeClip(name: string, size: string, codec: string[], seconds = 10): string {
  const f = path.join(cache, name);
  if (!existsSync(f)) {
    const r = spawnSync(ffmpegPath(), ['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=25`, '-t', String(seconds), ...codec, f]);
    if (r.status !== 0) throw new Error(`cannot make ${name}`);
  }
  return f;
}

/** Wall ms and CPU ms (user+sys, from bash's `time`) of an ffmpeg command. */
function timeFfmpeg(args: string[]): { wallMs: number; cpuMs: number } {
  const cmd = `TIMEFORMAT='%R %U %S'; time ${[baselineFfmpeg, ...args].map((a) => `'${a}'`).join(' ')} >/dev/null 2>/dev/null`;
  const r = spawnSync('bash', ['-c', cmd], { encoding: 'utf8' });
  const [real = NaN, user = NaN, sys = NaN] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { wallMs: real * 1000, cpuMs: (user + sys) * 1000 };
}

async function nativeDecode(clip: string, fps: number, tensor: boolean, backend: 'native' | 'pipe' = 'native'): Promise<{ wallMs: number; cpuMs: number; frames: number }> {
  const spec = checkPreprocessSpec({ width: 640, height: 640, mean: [0, 0, 0], std: [1, 1, 1] });
  const out = new Float32Array(tensorBytes(spec) / 4);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const src = openFrameSource({ url: clip, fps, hwaccel: 'none', queue: 8 }, backend);
  let frames = 0;
  for (;;) {
    const f = await src.next();
    if (!f) break;
    if (tensor) await f.preprocess(spec, out);
    f.release();
    frames++;
  }
  src.close();
  const c = process.cpuUsage(c0);
  return { wallMs: performance.now() - t0, cpuMs: (c.user + c.system) / 1000, frames };
}

async function main(): Promise<void> {
  if (!nativeDecoding()) throw new Error('the native decoder is not built (needs FFmpeg dev libraries at install)');
  const clips = [
    { name: '720p H.264', file: makeClip('720p-h264.mp4', '1280x720', ['-c:v', 'libx264', '-preset', 'medium', '-pix_fmt', 'yuv420p']) },
    { name: '1080p H.264', file: makeClip('1080p-h264.mp4', '1920x1080', ['-c:v', 'libx264', '-preset', 'medium', '-pix_fmt', 'yuv420p']) },
    { name: '1080p HEVC', file: makeClip('1080p-hevc.mp4', '1920x1080', ['-c:v', 'libx265', '-preset', 'fast', '-pix_fmt', 'yuv420p', '-x265-params', 'log-level=error']) },
  ] as const; // a tuple: clips[1] (1080p H.264) is known to be there
  const decodeRows = [];
  for (const c of clips) {
    const ff: number[] = [], nat: number[] = [], natT: number[] = [];
    let frames = 0;
    for (let i = 0; i < RUNS; i++) {
      ff.push(timeFfmpeg(['-threads', String(THREADS), '-i', c.file, '-f', 'null', '-']).wallMs);
      const n = await nativeDecode(c.file, 0, false);
      nat.push(n.wallMs);
      frames = n.frames;
      natT.push((await nativeDecode(c.file, 0, true)).wallMs);
    }
    const row = {
      clip: `${c.name} (${frames} frames)`,
      ffmpegFps: +((frames * 1000) / median(ff)).toFixed(0),
      nativeFps: +((frames * 1000) / median(nat)).toFixed(0),
      nativeVsFfmpeg: +(median(ff) / median(nat)).toFixed(2),
      nativeTensorFps: +((frames * 1000) / median(natT)).toFixed(0),
      tensorVsFfmpegDecode: +(median(ff) / median(natT)).toFixed(2),
    };
    decodeRows.push(row);
    console.log(row);
  }
  // Native vs the pipe backend, both producing a 640×640 float32 tensor from every frame of the 1080p H.264 clip.
  const p: number[] = [], n: number[] = [];
  let frames = 0;
  for (let i = 0; i < RUNS; i++) {
    const r = await nativeDecode(clips[1].file, 0, true, 'pipe');
    p.push(r.wallMs);
    frames = r.frames;
    n.push((await nativeDecode(clips[1].file, 0, true)).wallMs);
  }
  const pipeRow = { clip: `1080p H.264, every frame → 640×640 float32 (${frames} frames)`, pipeFps: +((frames * 1000) / median(p)).toFixed(0), nativeFps: +((frames * 1000) / median(n)).toFixed(0), nativeVsPipe: +(median(p) / median(n)).toFixed(2) };
  console.log(pipeRow);
  // CPU per live stream: 1080p25, sampled at 5 fps (JPEG for frame extraction; tensor for inference).
  const live = await nativeDecode(clips[1].file, 5, true);
  const ffLive = timeFfmpeg(['-threads', String(THREADS), '-i', clips[1].file, '-vf', 'fps=5', '-f', 'null', '-']);
  const cpuRow = {
    source: '1080p25 H.264, 10 s, sampled at 5 fps',
    nativeCpuMsPerSecond: +(live.cpuMs / 10).toFixed(0),
    nativeCoresPerStream: +(live.cpuMs / 10_000).toFixed(3),
    ffmpegCpuMsPerSecond: +(ffLive.cpuMs / 10).toFixed(0),
    streamsPerCoreNative: +(10_000 / live.cpuMs).toFixed(1),
  };
  console.log(cpuRow);

  const meta = { date: new Date().toISOString(), cpu: os.cpus()[0]?.model, cores: THREADS, node: process.version, runs: RUNS, baselineFfmpeg, addon: nativeDecoding()!.buildInfo().ffmpeg };
  const out = path.resolve(import.meta.dirname, 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'decode.json'), JSON.stringify({ meta, decode: decodeRows, pipe: pipeRow, cpu: cpuRow }, null, 2) + '\n');
  const md = [
    `Native media core (${THREADS} cores, ${meta.cpu}; median of ${RUNS}; baseline ${baselineFfmpeg}; ${meta.date.slice(0, 10)})`, '',
    '| clip | ffmpeg -f null fps | native decode fps | ratio | native decode + 640² float32 fps | ratio vs ffmpeg decode |', '| --- | --- | --- | --- | --- | --- |',
    ...decodeRows.map((r) => `| ${r.clip} | ${r.ffmpegFps} | ${r.nativeFps} | ${r.nativeVsFfmpeg}× | ${r.nativeTensorFps} | ${r.tensorVsFfmpegDecode}× |`),
    '', `| job | pipe backend fps | native fps | ratio |`, '| --- | --- | --- | --- |', `| ${pipeRow.clip} | ${pipeRow.pipeFps} | ${pipeRow.nativeFps} | ${pipeRow.nativeVsPipe}× |`,
    '', `CPU per stream, ${cpuRow.source}: native decode + tensor ${cpuRow.nativeCpuMsPerSecond} ms CPU per second of video (${cpuRow.nativeCoresPerStream} cores; ${cpuRow.streamsPerCoreNative} streams per core); ffmpeg decode alone ${cpuRow.ffmpegCpuMsPerSecond} ms/s.`,
  ].join('\n');
  writeFileSync(path.join(out, 'decode.md'), md + '\n');
  console.log(md);
}

await main();
