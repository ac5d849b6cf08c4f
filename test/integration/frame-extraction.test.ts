/**
 * The first task end to end (issue 2's acceptance): scheduler + two executors as real processes,
 * a TaskRequest for frame extraction of a generated 10 s 640×360 clip at TaskFrameRate 2, results
 * read back through GET /System/TaskResult, status pushed to the initiator's NotifyURL.
 * Proves I1, I2, S4, S5, S6, EB1, ED3, EM4 and clause 9.5/9.6/9.8/9.10 end to end.
 */
import t from 'tap';
import http from 'node:http';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { startCluster, waitFor, waitTaskEnd } from '../helpers/cluster.ts';
import { makeSampleClip } from '../../src/demo.ts';
import { ffmpegPath } from '../../src/runtime/ffmpeg-binary.ts';
import { jpegSize } from '../../src/runtime/jpeg.ts';
import { imageInfoPts, parse, TaskInfo as TaskInfoSchema, TaskResultBody as ResultSchema, DevTaskStatus, type TaskInfo, type TaskResultBody } from '../../src/protocol/index.ts';
import { defined } from '../helpers/defined.ts';

/** A tiny initiator: records what the scheduler pushes to NotifyURL. */
function initiator(): Promise<{ url: string; statuses: number[]; results: number; close(): void }> {
  const state = { statuses: [] as number[], results: 0 };
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const j = JSON.parse(body || '{}');
      if (req.method === 'PATCH' && req.url?.startsWith('/System/TaskStatus')) {
        const p = parse(DevTaskStatus, j);
        if (p.ok) for (const s of p.value.TaskStatusList ?? []) state.statuses.push(s.ExecutionStatus);
      } else if (req.url === '/System/Command' && j.CommandType === 'task_result') state.results++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ StatusCode: '0', CommandType: j.CommandType, CommandIdx: j.CommandIdx }));
    });
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => {
    const a = srv.address() as { port: number };
    resolve({ url: `http://127.0.0.1:${a.port}`, get statuses() { return state.statuses; }, get results() { return state.results; }, close: () => srv.close() });
  }));
}

t.test('frame extraction: TaskRequest → scheduler → executor → results (9.3, 9.5, 9.8, 9.10, I1, I2, S5, S6, SB1, ED3, EM4, B6)', async (t) => {
  const dir = t.testdir({});
  const clip = path.join(dir, 'clip.mp4');
  makeSampleClip(clip, 'testsrc', 10, '640x360');
  const cluster = await startCluster(dir, 2);
  t.teardown(() => cluster.stop());
  const init = await initiator();
  t.teardown(() => init.close());
  const { client, scheduler } = cluster;

  const sub = await client.send('POST', `${scheduler.url}/System/TaskRequest/`, {
    TaskType: 1, TaskName: '抽帧 test', Priority: 7,
    InitiationInfo: { DeviceID: 'initiator-1', Applicant: 'tap', CustomInfo: { Inputs: [{ StreamURL: pathToFileURL(clip).href }], AlgType: 'frame_extraction', TaskFrameRate: 2, NotifyURL: init.url } },
  });
  t.equal(sub.status, 200);
  const accepted = sub.body as { StatusCode: string; TaskID: string };
  t.equal(accepted.StatusCode, '0');
  t.ok(accepted.TaskID, 'TaskID returned (table 18)');

  const info = await waitFor('task to finish', async () => {
    const r = await client.send('GET', `${scheduler.url}/System/TaskInfo/${accepted.TaskID}`);
    const ti = (r.body as { TaskInfo?: TaskInfo }).TaskInfo;
    return ti && (ti.ExecutionStatus === 0 || ti.ExecutionStatus === 4) ? ti : undefined;
  }, 40_000);
  t.equal(info.ExecutionStatus, 0, `task done: ${JSON.stringify(info.SubtaskInfoList?.map((s) => s.TaskStatusInfo))}`);
  t.ok(parse(TaskInfoSchema, info).ok, 'TaskInfo is a valid table A.1 record');
  t.equal(info.SubtaskInfoList?.length, 1);
  t.ok(cluster.executorIds.includes(info.SubtaskInfoList?.[0]?.TaskExecutor.DeviceID ?? ''), 'subtask ran on one of the executors');
  t.strictSame(info.DeviceList, [info.SubtaskInfoList?.[0]?.TaskExecutor.DeviceID]);
  t.equal(info.Priority, 7);

  // Read every result back, in pages of 7 to exercise the cursor.
  const results: TaskResultBody[] = [];
  let pages = 0;
  for (let after = '0'; ;) {
    const r = await client.send('GET', `${scheduler.url}/System/TaskResult/${accepted.TaskID}?after=${after}&limit=7`);
    t.equal(r.status, 200);
    const page = r.body as { StatusCode: string; TaskResultList: TaskResultBody[]; Next?: string };
    pages++;
    results.push(...page.TaskResultList);
    if (!page.Next) break;
    after = page.Next;
  }
  t.ok(results.length >= 19 && results.length <= 21, `about 20 results (got ${results.length})`);
  t.ok(pages >= 3, `paged (${pages} pages)`);
  let prevTs = -Infinity;
  let prevPts = -Infinity;
  const jpegs: Buffer[] = [];
  for (const r of results) {
    const v = parse(ResultSchema, r);
    if (!v.ok) { t.fail(`result is not a valid table 26 body: ${v.message}`); break; }
    const img = r.TaskResultData.ImageResult!;
    const jpeg = Buffer.from(img.ImageData!, 'base64');
    jpegs.push(jpeg);
    const size = jpegSize(jpeg);
    if (!size || size.width !== 640 || size.height !== 360) t.fail(`frame is ${JSON.stringify(size)}, not 640x360`);
    if (r.Ts < prevTs) t.fail(`Ts went backwards: ${prevTs} → ${r.Ts}`);
    if ((imageInfoPts(img.ImageInfo) ?? -1) <= prevPts) t.fail(`Pts not increasing: ${prevPts} → ${imageInfoPts(img.ImageInfo)}`);
    prevTs = r.Ts;
    prevPts = imageInfoPts(img.ImageInfo)!;
  }
  t.equal(imageInfoPts(results[0]?.TaskResultData.ImageResult?.ImageInfo), 0, 'first sampled frame at pts 0');
  // Sampled by timestamp at 2 fps: each frame within one source frame (40 ms at 25 fps) of k × 500 ms.
  const off = results.map((r, k) => Math.abs((imageInfoPts(r.TaskResultData.ImageResult?.ImageInfo) ?? 0) - k * 500));
  t.ok(Math.max(...off) <= 40, `frames at k × 500 ms ± 40 (worst ${Math.max(...off)} ms)`);
  const first = defined(results[0], 'a first result');
  const pts0 = imageInfoPts(first.TaskResultData.ImageResult?.ImageInfo)!;
  t.ok(results.every((r) => r.Ts - first.Ts === imageInfoPts(r.TaskResultData.ImageResult?.ImageInfo)! - pts0), 'Ts spacing follows the media time');

  // Every JPEG decodes: feed them all to ffmpeg's MJPEG demuxer and count decoded frames.
  const dec = spawnSync(ffmpegPath(), ['-v', 'error', '-f', 'mjpeg', '-i', 'pipe:0', '-f', 'null', '-'], { input: Buffer.concat(jpegs), encoding: 'utf8' });
  t.equal(dec.status, 0);
  t.equal(dec.stderr.trim(), '', 'ffmpeg decodes every frame without error');

  // The initiator saw queued → running → done, in that order.
  await waitFor('done notification', async () => (init.statuses.includes(0) ? true : undefined), 5000);
  const seq = init.statuses.filter((s, i, a) => i === 0 || a[i - 1] !== s);
  t.strictSame(seq, [3, 1, 0], `status pushed to NotifyURL: ${init.statuses.join(',')}`);
  t.equal(init.results, results.length, 'every result was also pushed to NotifyURL');
});

t.test('the same task on the ffmpeg-pipe backend (what runs without the FFmpeg dev libraries)', async (t) => {
  const dir = t.testdir({});
  const clip = path.join(dir, 'clip.mp4');
  makeSampleClip(clip, 'testsrc', 10, '640x360');
  const cluster = await startCluster(dir, 1, { env: { RETINAD_DECODER: 'pipe' } });
  t.teardown(() => cluster.stop());
  const ext = await waitFor('TotalResource report', async () => {
    const devs = await cluster.client.send('GET', `${cluster.scheduler.url}/System/DeviceList`);
    const d = (devs.body as { DeviceList: Array<{ TotalResource: { ResourceInfo: { ExtendInfo: { DecoderBackend: { Active: string } } } } | null }> }).DeviceList[0];
    return d?.TotalResource?.ResourceInfo.ExtendInfo;
  }, 10_000);
  t.equal(ext.DecoderBackend.Active, 'ffmpeg-pipe', 'the executor reports the pipe backend');
  const sub = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, {
    TaskType: 1, TaskName: 'pipe', InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: pathToFileURL(clip).href }], AlgType: 'frame_extraction', TaskFrameRate: 2 } },
  });
  const id = (sub.body as { TaskID: string }).TaskID;
  const info = await waitTaskEnd(cluster, id, 40_000);
  t.equal(info.ExecutionStatus, 0);
  const r = await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskResult/${id}?limit=100`);
  const list = (r.body as { TaskResultList: TaskResultBody[] }).TaskResultList;
  t.ok(list.length >= 19 && list.length <= 21, `${list.length} results`);
  t.ok(list.every((x) => jpegSize(Buffer.from(x.TaskResultData.ImageResult!.ImageData!, 'base64'))?.width === 640), 'JPEGs at source size');
});
