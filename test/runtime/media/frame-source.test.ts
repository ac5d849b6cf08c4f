/**
 * The decoder behind FrameSource, on both backends where both apply: sampling by timestamp,
 * hardware selection, and bad input — truncated and garbage files, an unsupported codec, a URL
 * that never answers, a source that drops or stalls mid-stream, odd sizes, rotation, 10-bit —
 * each a clear error or correct output, never a crash or hang; no leaked fds, threads or memory.
 */
import t from 'tap';
import { waitFor } from '../../helpers/cluster.ts';
import path from 'node:path';
import { readFileSync, writeFileSync, statSync } from 'node:fs';
import { openFrameSource, MediaError, chooseBackend, type FrameSource } from '../../../src/runtime/media/frame-source.ts';
import { OptionError } from '../../../src/runtime/media/decoder-options.ts';
import { nativeDecoding } from '../../../src/runtime/media/native.ts';
import { jpegSize } from '../../../src/runtime/jpeg.ts';
import { frameRgb } from '../../../src/runtime/media/image-codec.ts';
import { accelerators } from '../../../src/runtime/accelerators.ts';
import { clip, ff, misbehavingServer, silentServer, processCounters } from '../../helpers/media.ts';
import { spawnSync } from 'node:child_process';
import { ffmpegPath } from '../../../src/runtime/ffmpeg-binary.ts';
import { defined } from '../../helpers/defined.ts';

const native = nativeDecoding() !== null;
/** How the backends word a timeout: native "no answer within N ms" / "stalled: no data for N ms", pipe "stalled: no frame for N ms". */
const TIMEOUT_TEXT = /no answer within \d+ ms|stalled: no (data|frame) for \d+ ms/;
const backends = (native ? ['native', 'pipe'] : ['pipe']) as Array<'native' | 'pipe'>;

async function drain(src: FrameSource, keepJpeg = false): Promise<{ pts: number[]; sizes: string[]; jpegs: Buffer[] }> {
  const out = { pts: [] as number[], sizes: [] as string[], jpegs: [] as Buffer[] };
  try {
    for (;;) {
      const f = await src.next();
      if (!f) break;
      out.pts.push(f.ptsMs);
      out.sizes.push(`${f.width}x${f.height}`);
      if (keepJpeg) out.jpegs.push(await f.jpeg(80));
      f.release();
    }
  } finally {
    src.close();
  }
  return out;
}

/** `p`, or a failure naming `what` after `ms`: a deadline so a hung decoder fails the test instead of hanging it (not a speed bound). */
async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

async function failure(src: FrameSource): Promise<MediaError> {
  try {
    await drain(src);
  } catch (err) {
    return err as MediaError;
  }
  throw new Error('expected the source to fail');
}

const dir = t.testdir({});
const base = clip(path.join(dir, 'base.mp4'), { seconds: 4 });

t.test('auto chooses native exactly when the addon has FFmpeg', async (t) => {
  t.equal(chooseBackend('auto').backend, native ? 'native' : 'ffmpeg-pipe');
  t.equal(chooseBackend('pipe').backend, 'ffmpeg-pipe');
});

for (const b of backends) {
  t.test(`${b}: samples by timestamp at the asked rate`, async (t) => {
    const r = await drain(openFrameSource({ url: base, fps: 5 }, b), true);
    t.ok(r.pts.length >= 19 && r.pts.length <= 21, `about 20 frames from 4 s at 5 fps (got ${r.pts.length})`);
    r.pts.forEach((p, k) => { if (Math.abs(p - k * 200) > 40) t.fail(`frame ${k} at ${p} ms, not ${k * 200} ± 40`); });
    t.ok(r.jpegs.every((j) => jpegSize(j)?.width === 320 && jpegSize(j)?.height === 240), 'JPEGs at source size');
  });

  t.test(`${b}: starts at an offset (checkpoint resume, SB12)`, async (t) => {
    const r = await drain(openFrameSource({ url: base, fps: 5, startMs: 2000 }, b));
    const first = defined(r.pts[0], 'a first frame');
    t.ok(first >= 1960 && first <= 2040, `first frame at ~2000 ms (got ${first})`);
    t.ok(r.pts.length >= 9 && r.pts.length <= 11, `about 10 frames (got ${r.pts.length})`);
  });

  t.test(`${b}: fps 0 keeps every frame, stamped at the source rate; stats name the stream`, async (t) => {
    const src = openFrameSource({ url: base, fps: 0 }, b);
    const st = () => src.stats();
    const r = await drain(src);
    t.equal(r.pts.length, 100, '4 s at 25 fps is 100 frames');
    t.ok(r.pts.every((p, k) => Math.abs(p - k * 40) <= 1), 'frame k at k × 40 ms');
    t.match(st(), { codec: 'h264', width: 320, height: 240 }, 'codec and size of the source');
    t.equal(Math.round(st().sourceFps), 25, 'source frame rate');
  });

  t.test(`${b}: frames are the pictures ffmpeg itself decodes (RGB within 2 grey levels on average)`, async (t) => {
    // ffmpeg's own RGB of frame 10, the reference neither backend's code computes.
    const r = spawnSync(ffmpegPath(), ['-hide_banner', '-loglevel', 'error', '-i', base, '-sws_flags', 'bilinear+full_chroma_int+full_chroma_inp+accurate_rnd', '-vf', 'select=eq(n\\,10)', '-vsync', '0', '-frames:v', '1',
      '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1'], { maxBuffer: 1 << 24 });
    t.equal(r.status, 0, 'ffmpeg decoded frame 10 to RGB');
    const src = openFrameSource({ url: base, fps: 0 }, b);
    let rgb: Buffer | undefined;
    for (let k = 0; k <= 10; k++) {
      const f = await src.next();
      if (k === 10 && f?.native) rgb = (await frameRgb(f.native)).data;
      f?.release();
    }
    src.close();
    t.ok(rgb, 'frame 10 as RGB from the core');
    let sum = 0;
    for (let i = 0; i < rgb!.length; i++) sum += Math.abs(rgb![i]! - r.stdout[i]!); // a short stdout gives NaN: the test fails
    t.ok(sum / rgb!.length <= 2, `mean |error| ${(sum / rgb!.length).toFixed(2)} grey levels against ffmpeg's conversion`);
  });

  t.test(`${b}: a missing file, garbage and a truncated file`, async (t) => {
    const missing = await failure(openFrameSource({ url: path.join(dir, 'nope.mp4'), fps: 1 }, b));
    t.type(missing, MediaError);
    t.equal(missing.exceptionCode, 60, 'source error → ExceptionCode 60');
    t.match(missing.message, /nope\.mp4/);
    const junk = path.join(dir, `junk-${b}.bin`);
    writeFileSync(junk, Buffer.from(Array.from({ length: 20000 }, (_, i) => (i * 2654435761) >>> 24)));
    const g = await failure(openFrameSource({ url: junk, fps: 1 }, b));
    t.equal(g.exceptionCode, 60, `garbage: ${g.message.slice(0, 100)}`);
    // A truncated MPEG-TS decodes up to the cut and ends; a truncated MP4 (no index) fails cleanly.
    const ts = clip(path.join(dir, `t-${b}.ts`), { seconds: 4, extra: ['-f', 'mpegts'] });
    const cut = path.join(dir, `cut-${b}.ts`);
    const bytes = readFileSync(ts);
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const r = await drain(openFrameSource({ url: cut, fps: 5 }, b));
    t.ok(r.pts.length > 3 && r.pts.length < 20, `truncated TS gives the frames before the cut (${r.pts.length})`);
    const mp4cut = path.join(dir, `cut-${b}.mp4`);
    writeFileSync(mp4cut, readFileSync(base).subarray(0, 3000));
    const m = await failure(openFrameSource({ url: mp4cut, fps: 5 }, b));
    t.type(m, MediaError, `truncated MP4: ${m.message.slice(0, 80)}`);
    t.equal(m.exceptionCode, 60, 'truncated MP4 → ExceptionCode 60');
  });

  t.test(`${b}: a URL that never answers times out`, async (t) => {
    const s = await silentServer();
    t.teardown(() => s.close());
    const src = openFrameSource({ url: s.url, fps: 1, openTimeoutMs: 800, readTimeoutMs: 800 }, b);
    const e = await within(60_000, 'a silent URL', failure(src));
    t.equal(e.exceptionCode, 60);
    // Given up because of the timeout (the message says so), not retried: a file-like URL is opened once.
    t.match(e.message, TIMEOUT_TEXT, `gave up on the timeout: ${e.message}`);
    t.equal(src.stats().reconnects, 0, 'no reconnects');
  });

  t.test(`${b}: a source that stalls mid-stream is detected by timeout`, async (t) => {
    const ts = clip(path.join(dir, `stall-${b}.ts`), { seconds: 4, extra: ['-f', 'mpegts'] });
    // Stall two thirds in: both backends have decoded frames by then (ffmpeg probes ahead first).
    const s = await misbehavingServer(ts, 'stall', Math.floor((statSync(ts).size * 2) / 3));
    t.teardown(() => s.close());
    const src = openFrameSource({ url: s.url, fps: 5, openTimeoutMs: 3000, readTimeoutMs: 1000, reconnect: false }, b);
    let frames = 0;
    const err = await within(60_000, 'a stalled source', (async () => {
      try { for (;;) { const f = await src.next(); if (!f) return null; frames++; f.release(); } } catch (e) { return e as MediaError; } finally { src.close(); }
    })());
    t.ok(err instanceof MediaError, `stall reported: ${err?.message}`);
    t.equal(err?.exceptionCode, 60);
    t.match(err?.message ?? '', TIMEOUT_TEXT, 'as a stall found by the read timeout');
    t.ok(frames > 0, `${frames} frames before the stall`);
  });
}

if (native) t.test('native only', async (t) => {
  t.test('ER4: hardware as the probe found it: auto uses it or software; forcing one decodes on it or is ExceptionCode 10', async (t) => {
    // What the probe says decides what must happen: a forced accelerator that is present must
    // really decode there (no silent software fallback); an absent one must be refused.
    const probe = accelerators().probe!;
    const present = { cuda: probe.cuda.available && (probe.cuda.nvdec?.available ?? false), vaapi: probe.vaapi.renderNodes.length > 0 };
    const src = openFrameSource({ url: base, fps: 1, hwaccel: 'auto' }, 'native');
    const f = await src.next();
    t.ok(f, 'auto decodes');
    f?.release();
    t.equal(src.stats().decode, present.cuda ? 'cuda' : present.vaapi ? 'vaapi' : 'software', `auto decoded on ${src.stats().decode}`);
    src.close();
    for (const hw of ['cuda', 'vaapi'] as const) {
      const s = openFrameSource({ url: base, fps: 1, hwaccel: hw }, 'native');
      const r = await s.next().then((fr) => { fr?.release(); return null; }, (e: MediaError) => e);
      const used = s.stats().decode;
      s.close();
      if (present[hw]) {
        t.equal(r, null, `${hw} is present: it decodes`);
        t.equal(used, hw, `forced ${hw} decoded on ${used}, not a silent software fallback`);
      } else {
        t.type(r, MediaError, `${hw} absent here: refused`);
        t.equal(r?.exceptionCode, 10, `${hw} unavailable: ${r?.message.slice(0, 90)}`);
        t.match(r?.message, new RegExp(`hwaccel ${hw} is not available`));
      }
    }
  });

  t.test('a sampled stream skips the frames nothing needs: same frames out, fewer decoded (TaskFrameRate, table 20)', async (t) => {
    // B-frames (libx264's default pyramid): the non-reference ones between sampling instants are
    // not decoded. What comes out must be exactly what decoding everything and sampling gives.
    const bf = clip(path.join(dir, 'bframes.mp4'), { seconds: 4, codec: ['-c:v', 'libx264', '-preset', 'fast', '-bf', '3', '-pix_fmt', 'yuv420p'] });
    const frames = async (fps: number, startMs = 0) => {
      const src = openFrameSource({ url: bf, fps, startMs }, 'native');
      const out = new Map<number, string>();
      try {
        for (let f = await src.next(); f; f = await src.next()) {
          out.set(f.ptsMs, (await frameRgb(defined(f.native, 'native frame'))).data.toString('base64'));
          f.release();
        }
        return { out, decoded: src.stats().framesDecoded };
      } finally {
        src.close();
      }
    };
    const all = await frames(0);
    t.equal(all.out.size, 100, 'every frame of 4 s at 25 fps when not sampling');
    t.equal(all.decoded, 100, 'and every frame decoded');
    for (const [fps, startMs] of [[5, 0], [2, 0], [5, 1500]] as const) {
      const s = await frames(fps, startMs);
      t.ok(s.out.size >= Math.floor(((4000 - startMs) / 1000) * fps) - 1, `${fps} fps from ${startMs} ms: ${s.out.size} frames`);
      t.ok(s.decoded < all.decoded * 0.8, `${fps} fps from ${startMs} ms decoded ${s.decoded} of ${all.decoded} frames`);
      for (const [pts, rgb] of s.out) {
        if (all.out.get(pts) !== rgb) t.fail(`${fps} fps: the frame at ${pts} ms differs from the one decoding everything gives`);
      }
      // Sampling picks the frame nearest each instant; skipping must not have moved any of them.
      const times = [...all.out.keys()];
      let k = 0;
      for (const pts of s.out.keys()) {
        const want = startMs + k++ * (1000 / fps);
        const nearest = times.reduce((a, b) => (Math.abs(b - want) < Math.abs(a - want) ? b : a));
        if (Math.abs(pts - want) > Math.abs(nearest - want) + 20) t.fail(`${fps} fps: instant ${want} ms got the frame at ${pts} ms, nearest is ${nearest}`);
      }
    }
  });

  t.test('a live source that drops is reopened with backoff and counted', async (t) => {
    const ts = clip(path.join(dir, 'drop.ts'), { seconds: 4, extra: ['-f', 'mpegts'] });
    const s = await misbehavingServer(ts, 'drop', 40_000);
    t.teardown(() => s.close());
    const src = openFrameSource({ url: s.url, fps: 25, reconnect: true, maxReconnects: 2, backoffMaxMs: 300, readTimeoutMs: 2000 }, 'native');
    const r = await drain(src).catch((e: Error) => ({ pts: [] as number[], error: e }));
    t.equal(src.stats().reconnects, 2, 'two reconnects, then it gives up');
    t.equal(s.hits(), 3, 'three connections');
    t.ok(r.pts.length > 0, `${r.pts.length} frames over the connections`);
    t.ok(r.pts.every((p, i) => i === 0 || p >= r.pts[i - 1]!), 'time keeps increasing across reconnects');
  });

  t.test('an unsupported codec is named', async (t) => {
    const avi = clip(path.join(dir, 'x.avi'), { codec: ['-c:v', 'mjpeg'] });
    const b = readFileSync(avi);
    // Rewrite every MJPG FourCC to one no decoder knows.
    for (let i = b.indexOf('MJPG'); i >= 0; i = b.indexOf('MJPG', i + 1)) b.write('QQQQ', i);
    const bad = path.join(dir, 'qqqq.avi');
    writeFileSync(bad, b);
    const e = await failure(openFrameSource({ url: bad, fps: 1 }, 'native'));
    t.equal(e.kind, 'unsupported');
    t.equal(e.exceptionCode, 60);
    t.match(e.message, /no decoder for the video codec/);
  });

  t.test('odd sizes, rotation metadata and 10-bit input decode correctly', async (t) => {
    const odd = clip(path.join(dir, 'odd.mkv'), { codec: ['-vf', 'scale=1281:721', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv444p'] });
    const r1 = await drain(openFrameSource({ url: odd, fps: 2 }, 'native'), true);
    t.equal(r1.sizes[0], '1281x721');
    t.strictSame(jpegSize(defined(r1.jpegs[0], 'a JPEG of the odd-sized clip')), { width: 1281, height: 721 }, 'JPEG keeps the odd size');
    // Rotation metadata survives only a stream copy in this ffmpeg.
    const rot = path.join(dir, 'rot.mp4');
    ff(['-i', base, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', rot]);
    const r2 = await drain(openFrameSource({ url: rot, fps: 2 }, 'native'), true);
    t.equal(r2.sizes[0], '240x320', 'rotated upright by the display matrix');
    t.strictSame(jpegSize(defined(r2.jpegs[0], 'a JPEG of the rotated clip')), { width: 240, height: 320 });
    // Same direction as ffmpeg's own autorotate: compare the luma of the first frame.
    const ref = spawnSync(ffmpegPath(), ['-v', 'error', '-i', rot, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'], { maxBuffer: 1 << 24 }).stdout;
    const ours = spawnSync(ffmpegPath(), ['-v', 'error', '-f', 'mjpeg', '-i', 'pipe:0', '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'], { input: r2.jpegs[0], maxBuffer: 1 << 24 }).stdout;
    const mae = (a: Buffer, b: Buffer, flip = false) => { let d = 0; for (let i = 0; i < a.length; i++) d += Math.abs(a[i]! - b[flip ? b.length - 1 - i : i]!); return d / a.length; };
    t.ok(mae(ours, ref) < 8, `luma matches ffmpeg's autorotate (MAE ${mae(ours, ref).toFixed(2)}; upside-down would be ${mae(ours, ref, true).toFixed(1)})`);
    t.equal(ref.length, 240 * 320, 'ffmpeg reference frame is 240x320 too');
    const r2b = await drain(openFrameSource({ url: rot, fps: 2, autorotate: false }, 'native'));
    t.equal(r2b.sizes[0], '320x240', 'autorotate: false keeps the coded orientation');
    const ten = clip(path.join(dir, 'ten.mkv'), { codec: ['-c:v', 'ffv1', '-pix_fmt', 'yuv420p10le'] });
    const r3 = await drain(openFrameSource({ url: ten, fps: 2 }, 'native'), true);
    t.ok(r3.pts.length >= 3, '10-bit frames decode');
    t.strictSame(jpegSize(defined(r3.jpegs[0], 'a JPEG of the 10-bit clip')), { width: 320, height: 240 });
  });

  t.test('open/close 1000 times leaks no fds, threads or memory', async (t) => {
    const small = clip(path.join(dir, 'small.mp4'), { size: '64x48', seconds: 1 });
    const run = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const src = openFrameSource({ url: small, fps: 5, hwaccel: 'none' }, 'native');
        const f = await src.next();
        f?.release();
        if (i % 2) src.close(); // half closed mid-stream, half drained to EOF
        else { while (await src.next().then((x) => { x?.release(); return x; })); src.close(); }
      }
    };
    await run(50); // warm caches and pools
    global.gc?.();
    const before = processCounters();
    await run(1000);
    global.gc?.();
    // Threads end and fds close a moment after close() returns: wait until the counts are back
    // (the deadline only keeps a leak from hanging the test), then compare.
    const after = await waitFor('fds and threads back to their count', async () => {
      const now = processCounters();
      return now.fds === before.fds && now.threads === before.threads ? now : undefined;
    }, 5000, 50).catch(() => processCounters());
    t.equal(after.fds, before.fds, `fds ${before.fds} → ${after.fds}`);
    t.equal(after.threads, before.threads, `threads ${before.threads} → ${after.threads}`);
    t.ok(after.rssMiB - before.rssMiB < 40, `RSS ${before.rssMiB.toFixed(1)} → ${after.rssMiB.toFixed(1)} MiB`);
  });
});

t.test('options are checked before anything starts', async (t) => {
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ url: '', fps: 1 }, /^url: is required/],
    [{ url: 'gopher://x', fps: 1 }, /^url: scheme/],
    [{ url: base, fps: -1 }, /^fps: must be a number in \[0, 1000\]/],
    [{ url: base, fps: 1, hwaccel: 'quantum' }, /^hwaccel: must be one of auto, none, cuda, vaapi/],
    [{ url: base, fps: 1, readTimeoutMs: 5 }, /^readTimeoutMs: must be an integer in \[100, 600000\]/],
    [{ url: base, fps: 1, queue: 0 }, /^queue: must be an integer in \[1, 256\]/],
    [{ url: `${base}\n`, fps: 1 }, /^url: must not contain NUL or line breaks/],
  ];
  for (const [o, re] of bad) t.throws(() => openFrameSource(o as never), re, JSON.stringify(o).slice(0, 60));
  t.throws(() => openFrameSource({ url: base, fps: 1, rtspTransport: 'sctp' as never }), OptionError);
});

if (native) t.test('HLS and HTTP-FLV over HTTP decode on the native backend', async (t) => {
  const http = await import('node:http');
  const { readFileSync: read, existsSync: exists } = await import('node:fs');
  const web = path.join(dir, 'web');
  (await import('node:fs')).mkdirSync(web, { recursive: true });
  ff(['-i', base, '-c', 'copy', '-f', 'hls', '-hls_time', '1', '-hls_list_size', '0', path.join(web, 'index.m3u8')]);
  ff(['-i', base, '-c', 'copy', '-f', 'flv', path.join(web, 'live.flv')]);
  const srv = http.createServer((req, res) => {
    const f = path.join(web, path.basename(req.url ?? ''));
    if (!exists(f)) { res.writeHead(404); res.end(); return; }
    res.writeHead(200);
    res.end(read(f));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => srv.close());
  const root = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
  for (const u of [`${root}/index.m3u8`, `${root}/live.flv`]) {
    const r = await drain(openFrameSource({ url: u, fps: 5, reconnect: false }, 'native'));
    t.ok(r.pts.length >= 19 && r.pts.length <= 21, `${u.split('/').pop()}: ${r.pts.length} frames`);
  }
});
