/**
 * SB4 for a DAG across real processes: a task's TimeRange holds for every stage. Two cameras are
 * analysed by motion detection and fused; the window opens a few seconds after the request and
 * lasts five. Before it every stage is queued (ExecutionStatus 3) and nothing is produced; the
 * detections stop at its end though their sources go on; the fusion stage ends with them; the
 * task ends done, with fused results made inside the window (and its fusion delay) only.
 */
import t from 'tap';
import path from 'node:path';
import { waitFor, waitTaskEnd } from '../helpers/cluster.ts';
import { buildExamples, example, publish, startExampleCluster } from '../helpers/examples.ts';
import { slowSource } from '../helpers/slow-source.ts';
import { formatRetinaDateTime, parseRetinaDateTime } from '../../src/protocol/datetime.ts';
import type { TaskInfo, TaskResultBody } from '../../src/protocol/index.ts';

t.test('SB4: a TimeRange window holds for every stage of a DAG: queued before it, detections stop at its end, the fusion ends with them', async (t) => {
  const dir = t.testdir({});
  t.equal(buildExamples(), 0);
  const cluster = await startExampleCluster(dir, 3);
  t.teardown(() => cluster.stop());
  t.equal(publish(cluster, example('motion_detection-1.0.0')).status, 0);
  // 10 s clips served over 12 s from when a stage opens them (at the window's start): at 2 fps
  // each source has 20 frames, more than the window's 5 s take.
  const cams = [await slowSource(path.join(dir, 'a.ts'), 12), await slowSource(path.join(dir, 'b.ts'), 12)];
  t.teardown(() => { for (const c of cams) c.close(); });
  const start = Math.ceil((Date.now() + 6000) / 10) * 10;
  const end = start + 5000;
  const r = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, {
    TaskName: 'windowed DAG', TaskType: 10, InitiationInfo: { DeviceID: 'i', CustomInfo: {
      Inputs: cams.map((c, i) => ({ StreamURL: c.url, DeviceID: `cam-${i}` })), TaskFrameRate: 2,
      TimeRange: [{ StartTime: formatRetinaDateTime(start), EndTime: formatRetinaDateTime(end) }],
      Topology: { Stages: [
        { Name: 'detect', AlgType: 'motion_detection', After: [] },
        { Name: 'fuse', AlgType: 'result_fusion', After: ['detect'], Join: true, AlgArgs: { WindowMs: 1000, MaxDelayMs: 3000 } },
      ] },
    } },
  });
  const id = (r.body as { TaskID?: string }).TaskID;
  t.ok(id, JSON.stringify(r.body));
  const info = async () => ((await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskInfo/${id}`)).body as { TaskInfo: TaskInfo }).TaskInfo;
  const results = async () => ((await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskResult/${id}?limit=500`)).body as { TaskResultList: TaskResultBody[] }).TaskResultList;

  // Before the window: every stage placed and held queued on its executor, nothing produced.
  const held = await waitFor('every stage queued on its executor', async () => {
    const ti = await info();
    return ti.SubtaskInfoList?.length === 3 && ti.SubtaskInfoList.every((s) => s.TaskStatusInfo.ExecutionStatus === 3) ? ti : undefined;
  }, 20_000, 100);
  t.ok(Date.now() < start, `all three stages held queued (ExecutionStatus 3) ${start - Date.now()} ms before the window`);
  t.ok(held.SubtaskInfoList!.every((s) => s.TaskDispatchInfo.ExecutionCond?.TimeRange?.[0]?.EndTime === formatRetinaDateTime(end)), 'each stage carries the task\'s window');
  t.equal((await results()).length, 0, 'no result before the window');

  const done = await waitTaskEnd(cluster, id!, 60_000);
  t.equal(done.ExecutionStatus, 0, `the task ends done: ${JSON.stringify(done.SubtaskInfoList?.map((s) => [s.TaskDispatchInfo.TaskID, s.TaskStatusInfo]))}`);
  for (const s of done.SubtaskInfoList!) t.equal(s.TaskStatusInfo.ExecutionStatus, 0, `${s.TaskDispatchInfo.TaskID} ended done`);
  const list = await results();
  t.ok(list.length >= 1, `${list.length} fused results`);
  const made = list.map((x) => parseRetinaDateTime(x.CreateTime as string));
  t.ok(made.every((m) => m >= start), `every fused result made after StartTime: ${made.map((m) => m - start).join(', ')} ms after it`);
  t.ok(made.every((m) => m <= end + 3000 + 2000), 'and by EndTime plus the fusion\'s MaxDelayMs (and a frame in flight)');
  const frames = list.flatMap((x) => (x.TaskResultData.AnalysisResult?.[0]?.ResultData as { Sources?: Array<{ Results: unknown[] }> } | undefined)?.Sources ?? []).reduce((n, s) => n + s.Results.length, 0);
  t.ok(frames >= 2 && frames < 2 * 20, `${frames} detections fused: the window's, not all 40 of the sources'`);
});
