/**
 * A manual topology split across device and edge (M1, M2, S1, EB4, DE2, DE3): text is detected
 * on the executor of DeviceType 0 (the camera's device), the crops travel to the executor of
 * DeviceType 1 (the edge), which recognises them and reports the text. The scheduler wires the
 * stages (DstDeviceList, Dependencies) and finishes the second when the first is done.
 */
import t from 'tap';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { waitFor, waitTaskEnd } from '../helpers/cluster.ts';
import { buildExamples, example, publish, startExampleCluster } from '../helpers/examples.ts';
import { slowSource } from '../helpers/slow-source.ts';
import { ff } from '../helpers/media.ts';
import { distance } from '../helpers/text.ts';
import type { TaskInfo, TaskResultBody } from '../../src/protocol/index.ts';
import { fontFile } from '../../src/demo/clip.ts';

// Signs are drawn with the font of an npm package (as the demo's are): no system fonts needed.
const FONT = fontFile();



t.test('detect on the device, recognise on the edge (M1, S1, SD1, EB4, DE2, DE3)', async (t) => {
  const dir = t.testdir({});
  t.equal(buildExamples(), 0);
  const cluster = await startExampleCluster(dir, 2, { executorArgsFor: (i) => ['--device-type', i === 1 ? '0' : '1'] });
  t.teardown(() => cluster.stop());
  const pub = publish(cluster, example('text_recognition-1.0.0'));
  t.equal(pub.status, 0, pub.stderr);
  const video = path.join(dir, 'plate.mp4');
  ff(['-f', 'lavfi', '-i', 'color=c=white:s=640x360:r=5', '-t', '2', '-vf',
    `drawtext=fontfile=${FONT}:text='LANE 3 OPEN':fontsize=52:fontcolor=black:x=90:y=90,drawtext=fontfile=${FONT}:text='Speed 60':fontsize=44:fontcolor=black:x=140:y=220`,
    '-c:v', 'libx264', '-pix_fmt', 'yuv420p', video]);

  const bad = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, {
    TaskName: 'x', InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: pathToFileURL(video).href }], Topology: { Stages: [{ Name: 'a', AlgType: 'text_recognition', DeviceType: '2' }] } } },
  });
  t.match((bad.body as { Message: string }).Message, /Topology stage "a": no online executor of DeviceType 2 offers AlgType "text_recognition"/);

  const r = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, {
    TaskName: 'read signs', TaskType: 8, InitiationInfo: { DeviceID: 'i', CustomInfo: {
      Inputs: [{ StreamURL: pathToFileURL(video).href }], TaskFrameRate: 1,
      Topology: { Stages: [
        { Name: 'detect', AlgType: 'text_recognition', AlgArgs: { Stage: 'detect' }, DeviceType: '0' },
        { Name: 'recognize', AlgType: 'text_recognition', AlgArgs: { Stage: 'recognize' }, DeviceType: '1' },
      ] } } },
  });
  const id = (r.body as { TaskID: string }).TaskID;
  t.ok(id, JSON.stringify(r.body));
  const info = await waitTaskEnd(cluster, id, 120_000);
  t.equal(info.ExecutionStatus, 0, JSON.stringify(info.SubtaskInfoList?.map((s) => s.TaskStatusInfo)));
  const subs = info.SubtaskInfoList!;
  t.equal(subs.length, 2, 'two subtasks (S1: the topology is recorded)');
  const det = subs.find((s) => s.TaskDispatchInfo.TaskID.endsWith('.detect'))!;
  const rec = subs.find((s) => s.TaskDispatchInfo.TaskID.endsWith('.recognize'))!;
  t.equal(det.TaskExecutor.DeviceType, '0', 'detection ran on the device');
  t.equal(rec.TaskExecutor.DeviceType, '1', 'recognition ran on the edge');
  t.equal(det.TaskDispatchInfo.DstDeviceList[0]?.DeviceID, rec.TaskExecutor.DeviceID, 'detection results go to the recognising executor');
  t.strictSame(rec.TaskDispatchInfo.Dependencies?.map((d) => d.TaskID), [det.TaskDispatchInfo.TaskID], 'recognition depends on detection');
  t.notOk(rec.TaskDispatchInfo.InputInfo.StreamURL, 'the edge stage reads no stream');
  const res = await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskResult/${id}`);
  const list = (res.body as { TaskResultList: TaskResultBody[] }).TaskResultList;
  t.ok(list.length >= 2, `${list.length} results stored`);
  t.ok(list.every((x) => x.DeviceID === rec.TaskExecutor.DeviceID), 'results come from the edge stage');
  const texts = list.flatMap((x) => (x.TaskResultData.AnalysisResult?.[0]?.ResultData as { Boxes: Array<{ Text?: string; CropData?: string }> }).Boxes);
  t.ok(texts.every((b) => b.CropData === undefined), 'crops are not forwarded to the scheduler');
  const words = [...new Set(texts.map((b) => b.Text ?? ''))];
  const expected = ['LANE 3 OPEN', 'Speed 60'];
  const errors = expected.reduce((n, e) => n + Math.min(...words.map((w) => distance(w, e)), e.length), 0);
  const accuracy = 1 - errors / expected.join('').length;
  t.ok(accuracy >= 0.9, `recognised on the edge: ${JSON.stringify(words)}, character accuracy ${(accuracy * 100).toFixed(1)} %`);
});

t.test('M1/S7: a recognising stage whose executor dies moves to another executor of its DeviceType, and detection follows it', async (t) => {
  const dir = t.testdir({});
  t.equal(buildExamples(), 0);
  // edge-1 is the camera's device (DeviceType 0); edge-2 and edge-3 are edge servers (1).
  const cluster = await startExampleCluster(dir, 3, { executorArgsFor: (i) => ['--device-type', i === 1 ? '0' : '1'] });
  t.teardown(() => cluster.stop());
  const pub = publish(cluster, example('text_recognition-1.0.0'));
  t.equal(pub.status, 0, pub.stderr);
  const font = `fontfile=${FONT}`;
  const src = await slowSource(path.join(dir, 'sign.ts'), 8, { lavfi: 'color=c=white:s=640x360:r=25',
    vf: `drawtext=${font}:text='LANE 3 OPEN':fontsize=52:fontcolor=black:x=90:y=90,drawtext=${font}:text='Speed 60':fontsize=44:fontcolor=black:x=140:y=220` });
  t.teardown(() => src.close());

  const r = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, {
    TaskName: 'read signs, survive', TaskType: 8, InitiationInfo: { DeviceID: 'i', CustomInfo: {
      Inputs: [{ StreamURL: src.url }], TaskFrameRate: 2,
      Topology: { Stages: [
        { Name: 'detect', AlgType: 'text_recognition', AlgArgs: { Stage: 'detect' }, DeviceType: '0' },
        { Name: 'recognize', AlgType: 'text_recognition', AlgArgs: { Stage: 'recognize' }, DeviceType: '1' },
      ] } } },
  });
  const id = (r.body as { TaskID: string }).TaskID;
  t.ok(id, JSON.stringify(r.body));
  // Once the edge stage has sent a result, kill its executor without warning.
  const first = await waitFor('a recognised result', async () => {
    const res = await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskResult/${id}`);
    return (res.body as { TaskResultList?: TaskResultBody[] }).TaskResultList?.[0]?.DeviceID;
  }, 60_000, 200);
  t.not(first, 'edge-1', 'the first results come from an edge server');
  cluster.executor(first).child.kill('SIGKILL');

  const info = await waitTaskEnd(cluster, id, 120_000);
  t.equal(info.ExecutionStatus, 0, JSON.stringify(info.SubtaskInfoList?.map((s) => s.TaskStatusInfo)));
  const subs = info.SubtaskInfoList!;
  const det = subs.find((s) => s.TaskDispatchInfo.TaskID.endsWith('.detect'))!;
  const rec = subs.find((s) => s.TaskDispatchInfo.TaskID.endsWith('.recognize'))!;
  t.equal(det.TaskExecutor.DeviceID, 'edge-1', 'detection stayed on the device');
  t.not(rec.TaskExecutor.DeviceID, first, 'recognition left the dead executor');
  t.equal(rec.TaskExecutor.DeviceType, '1', 'and stayed on an edge server (its stage DeviceType), not on the device');
  t.equal(det.TaskDispatchInfo.DstDeviceList[0]?.DeviceID, rec.TaskExecutor.DeviceID, 'detection was re-pointed at the new edge server');

  const res = await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskResult/${id}?limit=500`);
  const list = (res.body as { TaskResultList: TaskResultBody[] }).TaskResultList;
  const after = list.filter((x) => x.DeviceID === rec.TaskExecutor.DeviceID);
  t.ok(after.length >= 3, `${after.length} results from ${rec.TaskExecutor.DeviceID} after the kill (${list.length} in all)`);
  // The frames the dead stage had taken but not passed on were sent again by the detecting
  // executor (it keeps what the next stage acknowledged): every frame has its recognised result, once.
  const pts = list.map((x) => (x.TaskResultData.AnalysisResult?.[0]?.ResultData as { Pts?: number }).Pts ?? -1);
  t.equal(new Set(pts).size, pts.length, `no frame recognised twice: ${pts.join(' ')}`);
  t.equal(pts.length, 20, 'all 20 frames of the 10 s clip at 2 fps, none lost with the dead stage');
  const words = [...new Set(after.flatMap((x) => (x.TaskResultData.AnalysisResult?.[0]?.ResultData as { Boxes: Array<{ Text?: string }> }).Boxes.map((b) => b.Text ?? '')))];
  const expected = ['LANE 3 OPEN', 'Speed 60'];
  const errors = expected.reduce((n, e) => n + Math.min(...words.map((w) => distance(w, e)), e.length), 0);
  t.ok(1 - errors / expected.join('').length >= 0.9, `the moved stage still reads the signs: ${JSON.stringify(words)}`);
});

t.test('M2: a recognising stage that dies with a backlog after detection finished loses nothing: detection sends again what it had taken', async (t) => {
  const dir = t.testdir({});
  t.equal(buildExamples(), 0);
  const cluster = await startExampleCluster(dir, 3, { executorArgsFor: (i) => ['--device-type', i === 1 ? '0' : '1'] });
  t.teardown(() => cluster.stop());
  const pub = publish(cluster, example('text_recognition-1.0.0'));
  t.equal(pub.status, 0, pub.stderr);
  // A file, read as fast as detection goes: the recognising stage falls behind and holds a backlog.
  const video = path.join(dir, 'signs.mp4');
  const font = `fontfile=${FONT}`;
  ff(['-f', 'lavfi', '-i', 'color=c=white:s=640x360:r=10', '-t', '6', '-vf',
    `drawtext=${font}:text='LANE 3 OPEN':fontsize=52:fontcolor=black:x=90:y=90,drawtext=${font}:text='Speed 60':fontsize=44:fontcolor=black:x=140:y=220,drawtext=${font}:text='EXIT':fontsize=40:fontcolor=black:x=400:y=300,` +
    // More words than detection needs to find: each is one more crop to recognise, so recognition
    // is the slower stage and still has frames in hand when detection finishes.
    ['NORTH:20:10', 'STOP:470:10', 'ZONE 7:440:160', 'BUS:20:300', 'A1:20:170'].map((w) => { const [txt, x, y] = w.split(':'); return `drawtext=${font}:text='${txt}':fontsize=36:fontcolor=black:x=${x}:y=${y}`; }).join(','),
    '-c:v', 'libx264', '-pix_fmt', 'yuv420p', video]);
  const r = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, {
    TaskName: 'backlog', TaskType: 8, InitiationInfo: { DeviceID: 'i', CustomInfo: {
      Inputs: [{ StreamURL: pathToFileURL(video).href }], TaskFrameRate: 5,
      Topology: { Stages: [
        { Name: 'detect', AlgType: 'text_recognition', AlgArgs: { Stage: 'detect' }, DeviceType: '0' },
        { Name: 'recognize', AlgType: 'text_recognition', AlgArgs: { Stage: 'recognize' }, DeviceType: '1' },
      ] } } },
  });
  const id = (r.body as { TaskID: string }).TaskID;
  const stored = async () => ((await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskResult/${id}?limit=500`)).body as { TaskResultList?: TaskResultBody[] }).TaskResultList ?? [];
  // The moment the test is about: detection has finished (its subtask done) while recognition
  // still holds frames it has not delivered (fewer than 30 results stored).
  const atKill = await waitFor('detection finished', async () => {
    const ti = ((await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskInfo/${id}`)).body as { TaskInfo: TaskInfo }).TaskInfo;
    const det = ti.SubtaskInfoList?.find((s) => s.TaskDispatchInfo.TaskID.endsWith('.detect'));
    const rec = ti.SubtaskInfoList?.find((s) => s.TaskDispatchInfo.TaskID.endsWith('.recognize'));
    if (!det || !rec || det.TaskStatusInfo.ExecutionStatus !== 0) return undefined;
    return { detStatus: det.TaskStatusInfo.ExecutionStatus, recStatus: rec.TaskStatusInfo.ExecutionStatus, device: rec.TaskExecutor.DeviceID, stored: (await stored()).length };
  }, 120_000, 50);
  const first = atKill.device;
  cluster.executor(first).child.kill('SIGKILL');
  t.equal(atKill.detStatus, 0, 'detection had finished when the recognising stage was killed');
  t.ok(atKill.stored < 30 && atKill.recStatus !== 0, `with a backlog: ${atKill.stored} of 30 frames recognised and stored, recognition not done (ExecutionStatus ${atKill.recStatus})`);

  const info = await waitTaskEnd(cluster, id, 120_000);
  t.equal(info.ExecutionStatus, 0, JSON.stringify(info.SubtaskInfoList?.map((s) => s.TaskStatusInfo)));
  const res = await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskResult/${id}?limit=500`);
  const list = (res.body as { TaskResultList: TaskResultBody[] }).TaskResultList;
  const pts = list.map((x) => (x.TaskResultData.AnalysisResult?.[0]?.ResultData as { Pts?: number }).Pts ?? -1);
  t.equal(new Set(pts).size, pts.length, `no frame recognised twice (${pts.length})`);
  t.equal(pts.length, 30, `all 30 frames (6 s at 5 fps) recognised: ${list.filter((x) => x.DeviceID === first).length} before the kill, the rest on the new edge server`);
});
