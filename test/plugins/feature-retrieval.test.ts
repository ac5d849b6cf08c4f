/**
 * Feature extraction + retrieval (TaskTypes 4 and 9, ED1, ED2): executor A extracts a feature per
 * frame with the frame_feature plugin and sends its results to executor B by OutputURL; B
 * indexes the features it receives and answers nearest-neighbour queries. A frame that was never
 * sampled is found in the right scene.
 */
import t from 'tap';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';
import { RetinaClient } from '../../src/net/client.ts';
import { openFrameSource } from '../../src/runtime/media/frame-source.ts';
import { ff } from '../helpers/media.ts';
import { waitFor } from '../helpers/cluster.ts';
import { startExecutor } from '../helpers/nodes.ts';
import { defined } from '../helpers/defined.ts';

const root = path.resolve(import.meta.dirname, '..', '..');

t.test('ED2: A extracts, B aggregates and retrieves', async (t) => {
  const dir = t.testdir({});
  t.equal(spawnSync(process.execPath, [path.join(root, 'scripts', 'build-plugins.mjs')]).status, 0);
  // Three 2 s scenes that look nothing alike.
  const video = path.join(dir, 'scenes.mp4');
  ff(['-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25:d=2', '-f', 'lavfi', '-i', 'smptebars=size=320x240:rate=25:d=2', '-f', 'lavfi', '-i', 'mandelbrot=size=320x240:rate=25',
    '-filter_complex', '[2:v]trim=duration=2,setpts=PTS-STARTPTS[m];[0:v][1:v][m]concat=n=3:v=1[out]', '-map', '[out]', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', video]);
  const a = await startExecutor(dir, 'edge-a', { pluginWorkers: 1 });
  const b = await startExecutor(dir, 'edge-b', { pluginWorkers: 1 });
  const client = new RetinaClient({ senderId: 'sched' });
  t.teardown(async () => { await a.close(); await b.close(); await client.close(); });

  const rpk = pathToFileURL(path.join(root, 'plugins-sdk', 'examples', 'build', 'frame_feature-1.0.0.rpk')).href;
  const r = await client.command(a.url, { CommandType: 'task_dispatch', DeviceID: 'edge-a', MessageBody: { TaskDispatchList: [{
    TaskID: 'feat-1', TaskType: 4, TaskAttr: 0, AlgModelInfo: { AlgID: 2009, AlgVersion: '1.0.0', AlgFileURL: rpk },
    InputInfo: { StreamURL: pathToFileURL(video).href, TaskFrameRate: 2 }, DstDeviceList: [{ DeviceID: 'edge-b', OutputURL: b.url }] }] } });
  t.equal(r.StatusCode, '0', r.Message ?? '');
  await waitFor('features at B', async () => (b.ex.features.size('feat-1') >= 11 ? true : undefined), 30_000);
  t.ok(b.ex.features.size('feat-1') >= 11, `ED2: B indexed ${b.ex.features.size('feat-1')} features sent by A`);

  // A frame of the third scene that was never sampled (2 fps samples 4000, 4500 …; take 4740).
  const plugin = a.ex.plugins.get(2009)!;
  const src = openFrameSource({ url: video, fps: 0, startMs: 4740 });
  const f = (await src.next())!;
  const input = new ArrayBuffer(64 * 64 * 3);
  await f.preprocess({ width: 64, height: 64, resize: 'stretch', layout: 'nhwc', dtype: 'uint8' }, new Uint8Array(input));
  f.release();
  src.close();
  const out = (await a.ex.pluginPool().call(plugin, { input, ptsMs: 4740, args: {} })).output as { Results: Array<{ FeatureInfo: { Vector: number[] } }> };
  const res = await client.send('POST', `${b.url}/System/FeatureSearch`, { TaskID: 'feat-1', Vector: defined(out.Results[0], 'a feature result').FeatureInfo.Vector, K: 3 });
  const matches = (res.body as { Matches: Array<{ Pts: number; Score: number; DeviceID: string }> }).Matches;
  t.equal(matches.length, 3);
  t.ok(matches.every((m) => m.Pts >= 4000 && m.Pts < 6000), `nearest three are from the same scene: ${JSON.stringify(matches.map((m) => [m.Pts, m.Score]))}`);
  t.equal(matches[0]?.DeviceID, 'edge-a', 'each match says which executor saw it');
  t.ok((matches[0]?.Score ?? 0) > 0.9, `top similarity ${matches[0]?.Score}`);
  const bad = await client.send('POST', `${b.url}/System/FeatureSearch`, { Vector: 'nope' });
  t.equal(bad.status, 400);
  t.match((bad.body as { Message: string }).Message, /^Vector: must be a non-empty array/);
});
