/**
 * Task DAGs across real processes (M1, M2, M6, S1, SD1, B6, M3): a parallel fan-out over three
 * cameras into one fusion stage; the same DAG built by automatic decomposition for TaskType 10;
 * conditional stages that are placed and run only when an upstream result meets their condition.
 */
import t from 'tap';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { waitTaskEnd } from '../helpers/cluster.ts';
import { buildExamples, example, publish, startExampleCluster } from '../helpers/examples.ts';
import { ff } from '../helpers/media.ts';
import type { TaskInfo, TaskResultBody, TaskTopologyRecord } from '../../src/protocol/index.ts';

interface Fused { WindowStartTs: number; Sources: Array<{ TaskID: string; DeviceID: string; Results: Array<{ Ts: number; AnalysisResult: Array<{ ResultData?: { Motion?: boolean } }> }> }> }

/** A 3 s clip: moving test pattern, or a still grey picture. */
function camera(dir: string, name: string, moving: boolean): string {
  const file = path.join(dir, `${name}.mp4`);
  ff(['-f', 'lavfi', '-i', moving ? 'testsrc2=size=320x240:rate=10' : 'color=c=gray:s=320x240:r=10', '-t', '3', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', file]);
  return pathToFileURL(file).href;
}

t.test('M2, SD1, B6: three cameras analysed in parallel, fused by one stage; TaskTopology stored and returned (S1); TaskType 10 decomposes to the same DAG (M1)', async (t) => {
  const dir = t.testdir({});
  t.equal(buildExamples(), 0);
  const cluster = await startExampleCluster(dir, 3);
  t.teardown(() => cluster.stop());
  t.equal(publish(cluster, example('motion_detection-1.0.0')).status, 0);
  const inputs = [0, 1, 2].map((i) => ({ StreamURL: camera(dir, `cam${i}`, true), DeviceID: `cam-${i}` }));
  const send = (custom: Record<string, unknown>) => cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, { TaskName: 'cross-camera', TaskType: 10, InitiationInfo: { DeviceID: 'i', CustomInfo: custom } });

  const bad = await send({ Inputs: inputs, Topology: { Stages: [{ Name: 'detect', AlgType: 'motion_detection', After: [] }, { Name: 'fuse', AlgType: 'result_fusion', After: ['nope'], Join: true }] } });
  t.match((bad.body as { Message: string }).Message, /Topology: stage "fuse" lists "nope" in After, which is not a stage before it/, 'a bad edge is refused, naming the stage and the rule');

  const r = await send({ Inputs: inputs, TaskFrameRate: 2, Topology: { Stages: [
    { Name: 'detect', AlgType: 'motion_detection', After: [] },
    { Name: 'fuse', AlgType: 'result_fusion', After: ['detect'], Join: true, AlgArgs: { WindowMs: 1000, MaxDelayMs: 60000 } },
  ] } });
  const id = (r.body as { TaskID: string }).TaskID;
  t.ok(id, JSON.stringify(r.body));
  const info = await waitTaskEnd(cluster, id, 120_000);
  t.equal(info.ExecutionStatus, 0, JSON.stringify(info.SubtaskInfoList?.map((s) => [s.TaskDispatchInfo.TaskID, s.TaskStatusInfo])));
  const subs = info.SubtaskInfoList!;
  const detect = subs.filter((s) => s.TaskDispatchInfo.TaskID.endsWith('.detect'));
  const fuse = subs.find((s) => s.TaskDispatchInfo.TaskID === `${id}.fuse`)!;
  t.equal(detect.length, 3, 'one detection per camera (fan-out over inputs)');
  t.ok(fuse, 'one fusion subtask (fan-in)');
  t.strictSame(fuse.TaskDispatchInfo.Dependencies?.map((d) => d.TaskID).sort(), detect.map((s) => s.TaskDispatchInfo.TaskID).sort(), 'the fusion stage depends on every detection');
  t.notOk(fuse.TaskDispatchInfo.InputInfo.StreamURL, 'the fusion stage reads no stream');
  for (const d of detect) t.strictSame(d.TaskDispatchInfo.DstDeviceList.map((x) => x.DeviceID), [fuse.TaskExecutor.DeviceID], `${d.TaskDispatchInfo.TaskID} sends to the fusing executor only (SD1)`);

  t.equal(info.TaskTopology, `/System/TaskTopology/${id}`, 'TaskInfo.TaskTopology names the DAG record');
  const topo = (await cluster.client.send('GET', `${cluster.scheduler.url}${info.TaskTopology}`)).body as { TaskTopology: TaskTopologyRecord };
  t.strictSame(topo.TaskTopology.Stages.map((s) => [s.Name, s.Join, s.Subtasks.length]), [['detect', false, 3], ['fuse', true, 1]]);
  t.equal(topo.TaskTopology.Edges.filter((e) => e.To === `${id}.fuse`).length, 3, 'three edges into the fusion stage');

  const res = await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskResult/${id}?limit=500`);
  const list = (res.body as { TaskResultList: TaskResultBody[] }).TaskResultList;
  t.ok(list.length >= 2, `${list.length} fused results`);
  t.ok(list.every((x) => x.TaskID === `${id}.fuse`), 'the task\'s results come from the fusion stage');
  const fused = list.map((x) => x.TaskResultData.AnalysisResult![0]!.ResultData as unknown as Fused);
  const sources = new Set(fused.flatMap((f) => f.Sources.map((s) => s.TaskID)));
  t.equal(sources.size, 3, 'results of all three cameras were fused');
  const total = fused.reduce((n, f) => n + f.Sources.reduce((m, s) => m + s.Results.length, 0), 0);
  t.ok(total >= 3 * 5, `${total} camera results fused (3 cameras × 3 s at 2 fps)`);
  for (const f of fused) for (const s of f.Sources) {
    const ts = s.Results.map((x) => x.Ts);
    t.strictSame(ts, [...ts].sort((a, b) => a - b), `B6: ${s.TaskID} in window ${f.WindowStartTs} ordered by Ts`);
    t.ok(ts.every((x) => x >= f.WindowStartTs && x < f.WindowStartTs + 1000), 'each result in its window');
  }
  const starts = fused.map((f) => f.WindowStartTs);
  t.strictSame(starts, [...starts].sort((a, b) => a - b), 'windows released in time order');

  // M1: no Topology, TaskType 10 over several inputs: the same DAG, built automatically.
  const auto = await send({ Inputs: inputs, TaskFrameRate: 2, AlgType: 'motion_detection' });
  const autoId = (auto.body as { TaskID: string }).TaskID;
  t.ok(autoId, JSON.stringify(auto.body));
  const autoInfo: TaskInfo = await waitTaskEnd(cluster, autoId, 120_000);
  t.equal(autoInfo.ExecutionStatus, 0);
  const autoTopo = (await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskTopology/${autoId}`)).body as { TaskTopology: TaskTopologyRecord };
  t.strictSame(autoTopo.TaskTopology.Stages.map((s) => [s.Name, s.After, s.Join, s.Subtasks.length]), [['analyse', [], false, 3], ['fuse', ['analyse'], true, 1]], 'analyse per camera, then one fusion');
});

t.test('M2, M6, M3: conditional stages are placed and run only on matching results (event triggered); the others never run', async (t) => {
  const dir = t.testdir({});
  t.equal(buildExamples(), 0);
  const cluster = await startExampleCluster(dir, 2);
  t.teardown(() => cluster.stop());
  t.equal(publish(cluster, example('motion_detection-1.0.0')).status, 0);
  const inputs = [{ StreamURL: camera(dir, 'busy', true) }, { StreamURL: camera(dir, 'still', false) }];
  const motion = { Field: 'Motion', Op: 'eq', Value: true };
  const r = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, { TaskName: 'on motion', TaskType: 6, InitiationInfo: { DeviceID: 'i', CustomInfo: {
    Inputs: inputs, TaskFrameRate: 2, Topology: { Stages: [
      { Name: 'motion', AlgType: 'motion_detection', After: [] },
      // Event triggered: on motion, capture frames of that camera (it reads the stream itself).
      { Name: 'capture', AlgType: 'frame_extraction', After: ['motion'], Input: 'Stream', When: motion },
      // Runs on the matching results only: the scheduler relays those that meet the condition.
      { Name: 'alert', AlgType: 'result_fusion', After: ['motion'], When: motion, AlgArgs: { WindowMs: 60000, MaxDelayMs: 60000 } },
    ] } } } });
  const id = (r.body as { TaskID: string }).TaskID;
  t.ok(id, JSON.stringify(r.body));
  const info = await waitTaskEnd(cluster, id, 120_000);
  t.equal(info.ExecutionStatus, 0, JSON.stringify(info.SubtaskInfoList?.map((s) => [s.TaskDispatchInfo.TaskID, s.TaskExecutor.DeviceID, s.TaskStatusInfo])));
  const sub = (name: string) => info.SubtaskInfoList!.find((s) => s.TaskDispatchInfo.TaskID === `${id}.${name}`)!;
  t.not(sub('1.capture').TaskExecutor.DeviceID, '-', 'capture ran for the camera with motion');
  t.not(sub('1.alert').TaskExecutor.DeviceID, '-', 'alert ran for the camera with motion');
  for (const n of ['2.capture', '2.alert']) {
    t.equal(sub(n).TaskExecutor.DeviceID, '-', `${n} was never placed: no motion on the still camera`);
    t.equal(sub(n).TaskStatusInfo.ExecutionStatus, 0);
    t.match(sub(n).TaskStatusInfo.ExceptionDesc, /condition \(When\) was never met/);
  }
  t.ok(sub('1.motion').TaskDispatchInfo.DstDeviceList.some((d) => d.DeviceID !== undefined && !cluster.executorIds.includes(d.DeviceID)), 'motion results reach the scheduler, which judges the condition');

  const res = await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskResult/${id}?limit=500`);
  const list = (res.body as { TaskResultList: TaskResultBody[] }).TaskResultList;
  const from = (name: string) => list.filter((x) => x.TaskID === `${id}.${name}`);
  t.ok(from('1.capture').length >= 3, `${from('1.capture').length} frames captured on motion`);
  t.equal(from('2.capture').length + from('2.alert').length, 0, 'nothing ran for the still camera');
  const relayed = from('1.alert').flatMap((x) => (x.TaskResultData.AnalysisResult![0]!.ResultData as unknown as Fused).Sources.flatMap((s) => s.Results));
  const motionResults = from('1.motion');
  t.ok(relayed.length >= 2, `${relayed.length} results reached the alert stage`);
  t.ok(relayed.every((x) => x.AnalysisResult[0]?.ResultData?.Motion === true), 'only results with motion reached the conditional stage');
  t.ok(relayed.length < motionResults.length, `the non-matching (warm-up) result was held back: ${relayed.length} of ${motionResults.length}`);
});
