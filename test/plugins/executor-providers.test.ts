/**
 * EM3 / ER3 / ER4 through the standard's interfaces (issue 15): a package whose manifest asks for
 * CUDA, dispatched to an executor on a box without a GPU, runs on CPU and says so in table 31's
 * ResourcesOccupied, in table 15's ModelInfo and in the Prometheus metrics — real executor, real
 * HTTP, real worker threads and ONNX Runtime sessions.
 */
import t from 'tap';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { RetinaClient } from '../../src/net/client.ts';
import * as P from '../../src/protocol/index.ts';
import { hostAccelerators } from '../../src/runtime/accelerators.ts';
import { clip } from '../helpers/media.ts';
import { waitFor } from '../helpers/cluster.ts';
import { echoWithModelPackage, testKeys } from '../helpers/plugins.ts';
import { startExecutor, startPeer } from '../helpers/nodes.ts';

t.test('EM3/ER3: a task whose package asks for cuda runs on cpu here and says so in status, ModelInfo and metrics', { skip: hostAccelerators().gpus.length ? 'this box has a GPU' : false }, async (t) => {
  const dir = t.testdir({});
  const rpk = path.join(dir, 'echo-model.rpk');
  writeFileSync(rpk, echoWithModelPackage({ override: { resources: { accelerator: 'cuda' } } }));
  const video = clip(path.join(dir, 'clip.mp4'), { seconds: 2 });
  const peer = await startPeer();
  const { url, close } = await startExecutor(dir, 'edge-acc', { trust: [testKeys.publicPem] });
  const client = new RetinaClient({ senderId: 'sched' });
  t.teardown(async () => { await close(); await client.close(); peer.close(); });

  const d = await client.command(url, { CommandType: 'task_dispatch', DeviceID: 'edge-acc', MessageBody: { TaskDispatchList: [{
    TaskID: 'acc-1', TaskAttr: 0, AlgModelInfo: { AlgID: 9011, AlgVersion: '1.0.0', AlgFileURL: pathToFileURL(rpk).href },
    InputInfo: { StreamURL: pathToFileURL(video).href, TaskFrameRate: 5 }, DstDeviceList: [{ DeviceID: 'peer', OutputURL: peer.url }] }] } });
  t.equal(d.StatusCode, '0', `dispatched: ${String(d.Message ?? '')}`);

  const status = async () => {
    const st = P.parse(P.TaskStatusQueryReply, await client.command(url, { CommandType: 'task_status_query', MessageBody: { DeviceList: [{ DeviceID: 'edge-acc', HierarchicalQuery: '0', TaskIDList: ['acc-1'] }] } }));
    if (!st.ok) throw new Error(`table 29 reply invalid: ${st.message}`);
    return st.value.TaskStatusSet[0]?.TaskStatusList?.[0];
  };
  const done = await waitFor('the task to finish', async () => { const s = await status(); return s?.ExecutionStatus === 0 ? s : undefined; }, 60_000);
  const occupied = done.ResourcesOccupied as { FramesOut: number; ExecutionProviders?: Array<Record<string, unknown>> };
  t.ok(occupied.FramesOut >= 8, `frames analysed: ${occupied.FramesOut}`);
  t.match(occupied.ExecutionProviders, [{ ModelID: 7, Model: 'identity.onnx', ExecutionProvider: 'cpu', RequestedAccelerator: 'cuda', Reason: /^cuda: the probe found no NVIDIA GPU .*; running on cpu$/ }], 'ResourcesOccupied names the provider, what was asked and why');

  const algs = await client.command(url, { CommandType: 'algorithm_res_query', MessageBody: {} });
  const parsed = P.parse(P.AlgorithmResQueryReply, algs);
  t.ok(parsed.ok, 'table 13 reply, ModelInfo with its extension fields valid');
  const model = parsed.ok ? parsed.value.AlgResourceList[0]?.AlgInfoList.find((a) => a.AlgID === 9011)?.ModelList?.[0] : undefined;
  t.match(model, { ModelID: 7, ExecutionProvider: 'cpu', ExecutionProviderReason: /cuda: the probe found no NVIDIA GPU/ }, 'table 15 ModelInfo says where it runs');

  const metrics = await (await fetch(`${url}/metrics`)).text();
  t.match(metrics, /retinad_executor_model_provider_info\{task="acc-1",model="identity\.onnx",provider="cpu",requested="cuda",fallback="1"\} 1/, 'the metric says cpu, asked cuda, a fallback');
});
