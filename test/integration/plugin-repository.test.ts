/**
 * The algorithm model repository across processes (SM3, EC7, S2): a publisher signs and
 * publishes a package with `retinad-plugin publish`; a TaskRequest by AlgType reaches an
 * executor that never had it, which fetches it by AlgFileURL, verifies it, and runs it.
 */
import t from 'tap';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { waitTaskEnd } from '../helpers/cluster.ts';
import { buildExamples, example, publish, startExampleCluster } from '../helpers/examples.ts';
import { clip } from '../helpers/media.ts';
import type { TaskResultBody } from '../../src/protocol/index.ts';
import { fontFile } from '../../src/demo/clip.ts';

// Signs are drawn with the font of an npm package (as the demo's are): no system fonts needed.
const FONT = fontFile();

const root = path.resolve(import.meta.dirname, '..', '..');

t.test('publish → TaskRequest by AlgType → executor fetches, verifies, runs (9.6, S2, SM3, EC7)', async (t) => {
  const dir = t.testdir({});
  t.equal(buildExamples(), 0);
  const cluster = await startExampleCluster(dir, 2);
  t.teardown(() => cluster.stop());
  const rpk = example('motion_detection-1.0.0');
  const before = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, {
    TaskName: 'motion', TaskType: 6, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: 'file:///x.mp4' }], AlgType: 'motion_detection' } },
  });
  t.match((before.body as { Message: string }).Message, /no online executor offers AlgType "motion_detection"/, 'not available before publishing');

  const pub = publish(cluster, rpk);
  t.equal(pub.status, 0, pub.stderr);
  t.match(pub.stdout, /published: http:\/\/127\.0\.0\.1:\d+\/System\/AlgorithmRepository\/2006\/1\.0\.0\.rpk/);
  const unsigned = publish(cluster, path.join(root, 'package.json'));
  t.not(unsigned.status, 0, 'garbage is refused by the repository');

  const video = clip(path.join(dir, 'v.mp4'), { size: '640x360', seconds: 3 });
  const r = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, {
    TaskName: 'motion', TaskType: 6, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: pathToFileURL(video).href }], AlgType: 'motion_detection', TaskFrameRate: 5 } },
  });
  const id = (r.body as { TaskID: string }).TaskID;
  t.ok(id, `accepted: ${JSON.stringify(r.body)}`);
  const info = await waitTaskEnd(cluster, id, 60_000);
  t.equal(info.ExecutionStatus, 0, JSON.stringify(info.SubtaskInfoList?.[0]?.TaskStatusInfo));
  t.match(info.SubtaskInfoList?.[0]?.TaskDispatchInfo.AlgModelInfo.AlgFileURL ?? '', /AlgorithmRepository\/2006\/1\.0\.0\.rpk$/, 'dispatched with AlgFileURL');
  const res = await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskResult/${id}?limit=100`);
  const list = (res.body as { TaskResultList: TaskResultBody[] }).TaskResultList;
  t.ok(list.length >= 14, `${list.length} motion results stored`);
  t.ok(list.every((x) => x.AlgID === 2006 && x.TaskResultData.AnalysisResult?.length === 1));
});

t.test('OCR through the standard interfaces: publish, TaskRequest, stored AnalysisResults with text', async (t) => {
  const dir = t.testdir({});
  t.equal(buildExamples(), 0);
  const cluster = await startExampleCluster(dir, 1);
  t.teardown(() => cluster.stop());
  const pub = publish(cluster, example('text_recognition-1.0.0'));
  t.equal(pub.status, 0, pub.stderr);
  const video = path.join(dir, 'sign.mp4');
  const { ff } = await import('../helpers/media.ts');
  ff(['-f', 'lavfi', '-i', 'color=c=white:s=640x360:r=5', '-t', '1', '-vf', `drawtext=fontfile=${FONT}:text='GATE 42':fontsize=56:fontcolor=black:x=120:y=140`,
    '-c:v', 'libx264', '-pix_fmt', 'yuv420p', video]);
  const r = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, {
    TaskName: 'read the sign', TaskType: 8, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: pathToFileURL(video).href }], AlgType: 'text_recognition', TaskFrameRate: 1 } },
  });
  const id = (r.body as { TaskID: string }).TaskID;
  const info = await waitTaskEnd(cluster, id, 120_000);
  t.equal(info.ExecutionStatus, 0, JSON.stringify(info.SubtaskInfoList?.[0]?.TaskStatusInfo));
  const res = await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskResult/${id}`);
  const list = (res.body as { TaskResultList: TaskResultBody[] }).TaskResultList;
  t.ok(list.length >= 1, `${list.length} results`);
  const texts = list.flatMap((x) => (x.TaskResultData.AnalysisResult?.[0]?.ResultData as { Boxes: Array<{ Text: string }> }).Boxes.map((b) => b.Text));
  t.ok(texts.includes('GATE 42'), `recognised: ${JSON.stringify(texts)}`);
  t.strictSame(list[0]?.ModelList, [{ ModelID: 1, ModelVersion: 'PP-OCRv4-det' }, { ModelID: 2, ModelVersion: 'PP-OCRv4-rec' }], 'ModelList names the models (table 26)');
});

t.test('frame features through the standard interfaces: publish, TaskRequest, stored FeatureInfo', async (t) => {
  const dir = t.testdir({});
  t.equal(buildExamples(), 0);
  const cluster = await startExampleCluster(dir, 1);
  t.teardown(() => cluster.stop());
  t.equal(publish(cluster, example('frame_feature-1.0.0')).status, 0);
  const video = clip(path.join(dir, 'v.mp4'), { seconds: 2 });
  const r = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, {
    TaskName: 'features', TaskType: 4, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: pathToFileURL(video).href }], AlgType: 'frame_feature', TaskFrameRate: 2 } },
  });
  const id = (r.body as { TaskID: string }).TaskID;
  await waitTaskEnd(cluster, id, 60_000);
  const res = await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskResult/${id}`);
  const list = (res.body as { TaskResultList: TaskResultBody[] }).TaskResultList;
  t.ok(list.length >= 3, `${list.length} results`);
  const f = list[0]?.TaskResultData.AnalysisResult?.[0]?.FeatureInfo as { Dim: number; Vector: number[] };
  t.equal(f.Dim, 128);
  t.equal(f.Vector.length, 128, 'a 128-d feature per frame in table 26 FeatureInfo');
  t.ok(Math.abs(Math.hypot(...f.Vector) - 1) < 0.01, 'unit length');
});
