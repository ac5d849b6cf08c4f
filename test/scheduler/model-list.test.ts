/**
 * Table 20 AlgModelInfo.ModelList (issue 11 item 5, model selection): the scheduler names the
 * models of the exact algorithm version it dispatches — from the executor's own
 * algorithm_res_query answer (table 15), or from the published package's manifest when the
 * executor will fetch it — and an executor refuses a dispatch whose models it does not hold
 * (EB2), naming the model and the version.
 */
import t from 'tap';
import path from 'node:path';
import { mkdirSync, copyFileSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';
import { pino } from 'pino';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { RetinaClient } from '../../src/net/client.ts';
import { waitFor } from '../helpers/cluster.ts';
import { fakeExecutor, type SeenCommand } from '../helpers/fake-executor.ts';
import { startExecutor, startPeer } from '../helpers/nodes.ts';
import { clip } from '../helpers/media.ts';

const root = path.resolve(import.meta.dirname, '..', '..');
const built = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-plugins.mjs')], { encoding: 'utf8' });
const rpk = path.join(root, 'plugins-sdk', 'examples', 'build', 'text_recognition-1.0.0.rpk');
const OCR_MODELS = [{ ModelID: 1, ModelVersion: 'PP-OCRv4-det' }, { ModelID: 2, ModelVersion: 'PP-OCRv4-rec' }];

t.test('9.6/table 20: the scheduler fills ModelList from the executor\'s answer, or from the package it will fetch', async (t) => {
  t.equal(built.status, 0, `example plugins built ${built.stderr}`);
  const dir = t.testdir({});
  const keys = path.join(dir, 'keys');
  mkdirSync(keys);
  copyFileSync(path.join(root, 'plugins-sdk', 'examples', 'build', 'keys', 'publisher.pub'), path.join(keys, 'examples.pub'));
  const seen: SeenCommand[] = [];
  const listed = [{ AlgID: 2101, AlgType: 'text_recognition', AlgVersion: '1.0.0', AlgStatus: 1, ModelList: [{ ModelID: 1, ModelVersion: 'PP-OCRv4-det', ModelFileName: 'det.onnx' }, { ModelID: 2, ModelVersion: 'PP-OCRv4-rec' }] }];
  const has = await fakeExecutor('edge-has', { seen, algs: listed });
  const bare = await fakeExecutor('edge-bare', { seen, algs: [] });
  const s = new Scheduler({ deviceId: 'sched', dataDir: path.join(dir, 's'), publicUrl: 'http://127.0.0.1:1', keepaliveSec: 60, log: pino({ level: 'silent' }), trustedKeysDir: keys });
  t.teardown(async () => { await s.close(); has.close(); bare.close(); });
  s.repository.publish(readFileSync(rpk));
  s.register({ DeviceID: 'edge-has', DeviceType: '1', ProductType: 'fake', CommandURL: has.url });
  await s.refreshAlgorithms('edge-has');
  s.start();
  const submit = async (name: string) => {
    const r = await s.submit({ TaskName: name, TaskType: 1, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: `rtsp://cam/${name}` }], AlgID: 2101 } } });
    if (!r.ok) throw new Error(r.message);
    return waitFor(`${name} dispatched`, async () => seen.find((x) => x.type === 'task_dispatch' && JSON.stringify(x.body).includes(`"TaskName":"${name}"`)));
  };
  const own = await submit('own');
  t.equal(own.deviceId, 'edge-has');
  t.strictSame((own.body as { TaskDispatchList: Array<{ AlgModelInfo: unknown }> }).TaskDispatchList[0]?.AlgModelInfo,
    { AlgID: 2101, AlgVersion: '1.0.0', AlgFileURL: 'http://127.0.0.1:1/System/AlgorithmRepository/2101/1.0.0.rpk', ModelList: OCR_MODELS }, 'from the executor\'s table 15 ModelInfo (ID and version only)');

  // Only an executor without it is left: it fetches the package, and the list comes from its manifest.
  s.unregister('edge-has');
  s.register({ DeviceID: 'edge-bare', DeviceType: '1', ProductType: 'fake', CommandURL: bare.url });
  await s.refreshAlgorithms('edge-bare');
  const fetched = await submit('fetched');
  t.equal(fetched.deviceId, 'edge-bare');
  t.strictSame((fetched.body as { TaskDispatchList: Array<{ AlgModelInfo: unknown }> }).TaskDispatchList[0]?.AlgModelInfo,
    { AlgID: 2101, AlgVersion: '1.0.0', AlgFileURL: 'http://127.0.0.1:1/System/AlgorithmRepository/2101/1.0.0.rpk', ModelList: OCR_MODELS }, 'from the published manifest');
  t.strictSame(s.repository.entry(2101, '1.0.0')?.models, OCR_MODELS, 'the repository keeps each package\'s models');
});

t.test('EB2/table 20: an executor refuses a dispatch naming models it does not hold, and runs one that names its own', async (t) => {
  const dir = t.testdir({});
  const video = clip(path.join(dir, 'v.mp4'), { seconds: 1 });
  const peer = await startPeer();
  const { url, close } = await startExecutor(dir, 'edge-m');
  const client = new RetinaClient({ senderId: 'sched' });
  t.teardown(async () => { await close(); await client.close(); peer.close(); });
  const dispatch = (id: string, models?: unknown) => client.command(url, { CommandType: 'task_dispatch', DeviceID: 'edge-m', MessageBody: { TaskDispatchList: [{
    TaskID: id, TaskAttr: 0, AlgModelInfo: { AlgID: 2101, AlgVersion: '1.0.0', AlgFileURL: pathToFileURL(rpk).href, ...(models ? { ModelList: models } : {}) },
    InputInfo: { StreamURL: pathToFileURL(video).href, TaskFrameRate: 1 }, DstDeviceList: [{ DeviceID: 'peer', OutputURL: peer.url }] }] } });
  const old = await dispatch('m-old', [{ ModelID: 1, ModelVersion: 'PP-OCRv3-det' }]);
  t.equal(old.StatusCode, '1');
  t.match(old.Message, /AlgModelInfo\.ModelList: ModelID 1 is version PP-OCRv4-det here, not PP-OCRv3-det/, 'another version of a model: refused, naming both');
  const other = await dispatch('m-other', [{ ModelID: 7, ModelVersion: 'x' }]);
  t.match(other.Message, /AlgModelInfo\.ModelList: ModelID 7 is not a model of AlgID 2101 1\.0\.0 here \(it runs 1 PP-OCRv4-det, 2 PP-OCRv4-rec\)/);
  const frames = await client.command(url, { CommandType: 'task_dispatch', DeviceID: 'edge-m', MessageBody: { TaskDispatchList: [{
    TaskID: 'fx', TaskAttr: 0, AlgModelInfo: { AlgID: 1001, AlgVersion: '1.0.0', ModelList: [{ ModelID: 1, ModelVersion: 'v' }] },
    InputInfo: { StreamURL: pathToFileURL(video).href, TaskFrameRate: 1 }, DstDeviceList: [{ DeviceID: 'peer', OutputURL: peer.url }] }] } });
  t.match(frames.Message, /ModelID 1 is not a model of AlgID 1001 1\.0\.0 here \(it runs no model\)/, 'a built-in runs no model');
  t.equal((await dispatch('m-ok', OCR_MODELS)).StatusCode, '0', 'its own models at their versions: accepted');
  t.equal((await dispatch('m-none')).StatusCode, '0', 'no ModelList: nothing to check (it is optional)');
});
