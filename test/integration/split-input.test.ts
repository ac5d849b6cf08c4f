/**
 * One file input fanned out over executors (SB7, M2) across real processes: a 10 s clip split in
 * two time slices (`Inputs[i].Parts`) runs as two subtasks on the two executors of the cluster;
 * together they store every sampled frame exactly once — the same frames one executor reading
 * the whole file stores — with their original Pts, and the results' Ts keep the file's order.
 */
import t from 'tap';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startCluster, waitTaskEnd } from '../helpers/cluster.ts';
import { clip } from '../helpers/media.ts';
import type { TaskResultBody } from '../../src/protocol/index.ts';

const pts = (r: TaskResultBody): number => (r.TaskResultData.ImageResult as { ImageInfo: { Pts: number } }).ImageInfo.Pts;

t.test('SB7, M2: one 10 s file split in two parts runs on both executors; every frame stored exactly once, with its Pts, in Ts order', async (t) => {
  const dir = t.testdir({});
  const file = pathToFileURL(clip(path.join(dir, 'ten.mp4'), { seconds: 10 })).href;
  const cluster = await startCluster(path.join(dir, 'c'), 2);
  t.teardown(() => cluster.stop());
  const run = async (input: Record<string, unknown>): Promise<{ id: string; results: TaskResultBody[] }> => {
    const r = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, { TaskName: 'split', TaskType: 1,
      InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: file, ...input }], AlgType: 'frame_extraction', TaskFrameRate: 2 } } });
    const id = (r.body as { TaskID?: string }).TaskID;
    if (!id) throw new Error(`not accepted: ${JSON.stringify(r.body)}`);
    const info = await waitTaskEnd(cluster, id, 120_000);
    t.equal(info.ExecutionStatus, 0, JSON.stringify(info.SubtaskInfoList?.map((s) => s.TaskStatusInfo)));
    const page = await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskResult/${id}?limit=500`);
    return { id, results: (page.body as { TaskResultList: TaskResultBody[] }).TaskResultList };
  };

  const whole = await run({});
  const expected = whole.results.map(pts).sort((a, b) => a - b);
  t.ok(expected.length >= 18, `one executor reading the whole file stores ${expected.length} frames`);

  const split = await run({ Parts: 2 });
  const info = (await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskInfo/${split.id}`)).body as { TaskInfo: { SubtaskInfoList: Array<{ TaskExecutor: { DeviceID: string }; TaskDispatchInfo: { TaskID: string } }> } };
  const subs = info.TaskInfo.SubtaskInfoList;
  t.equal(subs.length, 2, 'two subtasks over the one input');
  t.strictSame(new Set(subs.map((s) => s.TaskExecutor.DeviceID)), new Set(cluster.executorIds), 'one on each executor');
  const byPart = subs.map((s) => split.results.filter((r) => r.TaskID === s.TaskDispatchInfo.TaskID));
  t.ok(byPart.every((p) => p.length > 0), `both executors worked: ${byPart.map((p) => p.length).join(' + ')} frames`);

  const got = split.results.map(pts).sort((a, b) => a - b);
  t.equal(new Set(got).size, got.length, 'no frame stored twice');
  t.strictSame(got, expected, 'exactly the frames of one reading of the whole file, with their original Pts');
  const [first, second] = byPart.map((p) => p.map(pts));
  t.ok(Math.max(...first!) < Math.min(...second!), 'part 1 holds the first slice, part 2 the second');
  t.ok(Math.min(...second!) >= 4000, `part 2 starts near the middle of the file (Pts ${Math.min(...second!)})`);
  const byTs = [...split.results].sort((a, b) => a.Ts - b.Ts || pts(a) - pts(b)).map(pts);
  t.strictSame(byTs, got, 'ordered by Ts, the results are in the file\'s order (both parts stamp Ts from one origin)');
});

t.test('SB7: a live source cannot be split; the refusal names the field', async (t) => {
  const cluster = await startCluster(t.testdir({}), 1);
  t.teardown(() => cluster.stop());
  const r = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, { TaskName: 'split', TaskType: 1,
    InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: 'rtsp://127.0.0.1:1/live', Parts: 2 }], AlgType: 'frame_extraction' } } });
  t.match(r.body, { StatusCode: '1', Message: /^InitiationInfo\.CustomInfo\.Inputs\[0\]\.Parts: only a file source/ });
});
