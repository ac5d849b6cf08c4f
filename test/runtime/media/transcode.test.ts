/**
 * TaskType 3 (video/image codec): re-encoding to H.264/H.265 at a bitrate and size, cut into
 * decodable MP4 slices, delivered as VideoResult through the executor (EB1, ED1).
 */
import t from 'tap';
import http from 'node:http';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { Transcoder, NativeTranscoder, openTranscoder, transcodeOptionsFromArgs, type SliceSource } from '../../../src/runtime/media/transcode.ts';
import { nativeDecoding } from '../../../src/runtime/media/native.ts';
import { openFrameSource } from '../../../src/runtime/media/frame-source.ts';
import { Executor } from '../../../src/runtime/executor.ts';
import { createExecutorServer } from '../../../src/api/executor-server.ts';
import { RetinaClient } from '../../../src/net/client.ts';
import { parse, TaskResultBody } from '../../../src/protocol/index.ts';
import { clip } from '../../helpers/media.ts';
import { waitFor } from '../../helpers/cluster.ts';
import { TEST_EXECUTOR_OPTIONS } from '../../helpers/nodes.ts';

const dir = t.testdir({});
const src = clip(path.join(dir, 'src.mp4'), { size: '640x360', seconds: 6 });

const backends: Array<[string, (o: ReturnType<typeof transcodeOptionsFromArgs>) => SliceSource]> = [['ffmpeg-pipe', (o) => new Transcoder(o)]];
if (nativeDecoding()?.Encoder) backends.push(['native', (o) => new NativeTranscoder(o)]);

for (const [name, make] of backends) t.test(`${name}: H.265 at 500 kb/s, 320x180, 2 s slices: three decodable slices of the right size`, async (t) => {
  const tc = make(transcodeOptionsFromArgs(src, { Codec: 'H.265', BitrateKbps: 500, Width: 320, Height: 180, SliceSeconds: 2 }));
  const slices = [];
  for (;;) { const s = await tc.next(); if (!s) break; slices.push(s); }
  t.equal(slices.length, 3);
  slices.forEach((s, i) => t.ok(Math.abs(s.startMs - i * 2000) <= 120, `slice ${i} starts at ${s.startMs} ms (≈ ${i * 2000}; cut at the next keyframe)`));
  for (const s of slices) {
    const f = path.join(dir, `${name}-slice${s.index}.mp4`);
    writeFileSync(f, s.data);
    const fs = openFrameSource({ url: f, fps: 0 });
    let frames = 0, size = '';
    for (;;) { const x = await fs.next(); if (!x) break; frames++; size = `${x.width}x${x.height}`; x.release(); }
    const st = fs.stats();
    fs.close();
    t.equal(size, '320x180', `slice ${s.index} decodes at the asked size`);
    t.ok(Math.abs(frames - 50) <= 1, `slice ${s.index}: ${frames} frames (2 s at 25 fps)`);
    t.equal(st.codec, 'hevc', `slice ${s.index} is HEVC`);
    const kbps = (s.data.length * 8) / s.durationMs;
    t.ok(kbps > 100 && kbps < 1000, `slice ${s.index}: ${kbps.toFixed(0)} kb/s for a 500 kb/s target`);
  }
});

t.test('openTranscoder picks the in-process encoder when the build has it', async (t) => {
  const o = transcodeOptionsFromArgs(src, { Codec: 'H.264', SliceSeconds: 10 });
  const tc = openTranscoder(o);
  t.equal(tc.backend, nativeDecoding()?.Encoder ? 'native' : 'ffmpeg-pipe');
  tc.close();
  t.equal(openTranscoder(o, 'pipe').backend, 'ffmpeg-pipe');
});

t.test('bad AlgArgs are named', async (t) => {
  t.throws(() => transcodeOptionsFromArgs(src, { Codec: 'VP8' }), /^AlgArgs\.Codec: must be "H\.264" or "H\.265"/);
  t.throws(() => transcodeOptionsFromArgs(src, { Width: 321, Height: 180 }), /must be even/);
  t.throws(() => transcodeOptionsFromArgs(src, { Width: 320 }), /Width and Height go together/);
  t.throws(() => transcodeOptionsFromArgs(src, { BitrateKbps: 1 }), /^AlgArgs\.BitrateKbps: must be an integer 50\.\.200000/);
});

t.test('the executor runs video_transcode and sends VideoResults (EB1, EB2, ED1)', async (t) => {
  const got: Array<Record<string, unknown>> = [];
  const peer = http.createServer((req, res) => {
    let b = '';
    req.on('data', (c) => (b += c));
    req.on('end', () => { const j = JSON.parse(b); got.push(j.MessageBody); res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ StatusCode: '0' })); });
  });
  await new Promise<void>((r) => peer.listen(0, '127.0.0.1', r));
  const log = pino({ level: 'silent' });
  const ex = new Executor({ deviceId: 'edge-t', dataDir: path.join(dir, 'edge'), commandUrl: 'http://unused', log, ...TEST_EXECUTOR_OPTIONS });
  const app = createExecutorServer(ex, { log });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const client = new RetinaClient({ senderId: 'sched' });
  t.teardown(async () => { await ex.close(); await app.close(); await client.close(); peer.close(); });
  const dispatch = (args: Record<string, unknown>, id: string) => client.command(url, { CommandType: 'task_dispatch', DeviceID: 'edge-t', MessageBody: { TaskDispatchList: [{
    TaskID: id, TaskType: 3, TaskAttr: 0, AlgModelInfo: { AlgID: 1003, AlgVersion: '1.0.0' }, InputInfo: { StreamURL: pathToFileURL(src).href, AlgArgs: args },
    DstDeviceList: [{ DeviceID: 'peer', OutputURL: `http://127.0.0.1:${(peer.address() as { port: number }).port}` }] }] } });
  const bad = await dispatch({ Codec: 'MPEG-2' }, 'tc-bad');
  t.equal(bad.StatusCode, '1');
  t.match(bad.Message ?? '', /AlgArgs\.Codec/, 'EB2 checks AlgArgs before accepting');
  const ok = await dispatch({ Codec: 'H.264', BitrateKbps: 800, SliceSeconds: 3 }, 'tc-1');
  t.equal(ok.StatusCode, '0');
  await waitFor('task done', async () => (ex.taskStatus('tc-1')?.ExecutionStatus === 0 ? true : undefined), 60_000);
  await waitFor('results delivered', async () => (got.length >= 2 ? true : undefined), 10_000);
  t.equal(got.length, 2, 'two 3 s slices of a 6 s clip');
  for (const g of got) {
    t.ok(parse(TaskResultBody, g).ok, 'valid table 26 body');
    const info = (g.TaskResultData as { VideoResult: { VideoSliceInfo: Record<string, unknown>; VideoSliceData: string } }).VideoResult;
    t.equal(info.VideoSliceInfo.Codec, 'H.264');
    t.ok(info.VideoSliceData.length > 1000, 'slice data present');
  }
});
