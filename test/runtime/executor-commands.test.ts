/**
 * The executor's side of clause 9, in process over real HTTP: resource and algorithm queries
 * (9.2, 9.4: ER1–ER3), dispatch with the executability check (9.6: EB1, EB2), control (9.7: EB3),
 * status query (9.9) and results sent to another node by OutputURL (ED1).
 */
import t from 'tap';
import { TEST_EXECUTOR_OPTIONS } from '../helpers/nodes.ts';
import http from 'node:http';
import path from 'node:path';
import { pino } from 'pino';
import { Executor } from '../../src/runtime/executor.ts';
import { createExecutorServer } from '../../src/api/executor-server.ts';
import { RetinaClient } from '../../src/net/client.ts';
import * as P from '../../src/protocol/index.ts';
import { slowSource } from '../helpers/slow-source.ts';
import { waitFor } from '../helpers/cluster.ts';
import { defined } from '../helpers/defined.ts';

const log = pino({ level: 'silent' });

t.test('executor commands over HTTP (9.2, 9.4, 9.6, 9.7, 9.9; ER1, ER3, EB1, EB2, EB3, ED1)', async (t) => {
  const dir = t.testdir({});
  // A peer node that receives task_result commands (ED1).
  const received: P.TaskResultBody[] = [];
  const peer = http.createServer((req, res) => {
    let b = '';
    req.on('data', (c) => (b += c));
    req.on('end', () => {
      const j = JSON.parse(b);
      if (j.CommandType === 'task_result') received.push(j.MessageBody);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ CommandType: j.CommandType, CommandIdx: j.CommandIdx, StatusCode: '0' }));
    });
  });
  await new Promise<void>((r) => peer.listen(0, '127.0.0.1', r));
  const peerUrl = `http://127.0.0.1:${(peer.address() as { port: number }).port}`;
  const src = await slowSource(path.join(dir, 'clip.ts'), 8);
  const ex = new Executor({ deviceId: 'edge-x', dataDir: path.join(dir, 'edge'), commandUrl: 'http://unused', token: 'tok', log, longitude: '116.397128', latitude: '39.916527',
    ...TEST_EXECUTOR_OPTIONS });
  const app = createExecutorServer(ex, { token: 'tok', log });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const client = new RetinaClient({ token: 'tok', senderId: 'test-scheduler' });
  t.teardown(async () => { await ex.close(); await app.close(); await client.close(); src.close(); peer.close(); });
  const cmd = (c: Record<string, unknown>) => client.command(url, { CommandIdx: client.commandIdx(), ...c });

  const total = await cmd({ CommandType: 'total_res_query', MessageBody: { DeviceList: [{ DeviceID: 'edge-x', HierarchicalQuery: '0' }] } });
  const tp = P.parse(P.TotalResQueryReply, total);
  t.ok(tp.ok, `table 3 reply: ${tp.ok || tp.message}`);
  const tr = defined((total as unknown as P.TotalResQueryReply).TotalResourceList[0], 'a TotalResource entry');
  t.equal(tr.DeviceID, 'edge-x');
  t.ok((tr.ResourceInfo.CommonResource?.TotalMemory ?? 0) > 0, 'ER1: memory measured');
  t.match(tr.ResourceInfo.ComputeResource?.TotalPower[0]?.ComputingPower ?? '', /^\d+ GFLOPS$/);
  t.match((tr.ResourceInfo.ExtendInfo as { DecoderBackend: { Active: string } }).DecoderBackend.Active, /^(native|ffmpeg-pipe)$/, 'backend reported');
  t.ok((tr.ResourceInfo.ExtendInfo as { Algorithms: string[] }).Algorithms.includes('1001:frame_extraction@1.0.0'), 'installed algorithms listed in TotalResource');
  const other = await cmd({ CommandType: 'total_res_query', MessageBody: { DeviceList: [{ DeviceID: 'someone-else', HierarchicalQuery: '0' }] } });
  t.strictSame((other as unknown as P.TotalResQueryReply).TotalResourceList, [], 'a query for another device returns nothing');

  const avail = await cmd({ CommandType: 'available_res_query', MessageBody: {} });
  t.ok(P.parse(P.AvailableResQueryReply, avail).ok, 'table 6 reply');
  const cpu = (avail as unknown as P.AvailableResQueryReply).AvailableResourceList[0]?.ResourceInfo.CommonResource?.AvailableCPU ?? -1;
  t.ok(cpu >= 0 && cpu <= 100, 'AvailableCPU in [0,100]');

  const algs = await cmd({ CommandType: 'algorithm_res_query', MessageBody: {} });
  t.ok(P.parse(P.AlgorithmResQueryReply, algs).ok, 'table 13 reply');
  const fx = (algs as unknown as P.AlgorithmResQueryReply).AlgResourceList[0]?.AlgInfoList.find((a) => a.AlgType.includes('frame'));
  t.ok(fx, 'ER3: frame extraction listed');
  t.equal(fx?.AlgStatus, 1, 'unused while no task runs');

  // EB2: a task this executor cannot run is refused with the reason.
  const base = { TaskID: 'sub-1', TaskAttr: 0, AlgModelInfo: { AlgID: 1001, AlgVersion: '1.0.0' }, InputInfo: { StreamURL: src.url, TaskFrameRate: 2 }, DstDeviceList: [{ DeviceID: 'peer-1', OutputURL: peerUrl }] };
  const wrongAlg = await cmd({ CommandType: 'task_dispatch', DeviceID: 'edge-x', MessageBody: { TaskDispatchList: [{ ...base, AlgModelInfo: { AlgID: 9999, AlgVersion: '1' } }] } });
  t.equal(wrongAlg.StatusCode, '1');
  t.match(wrongAlg.Message ?? '', /AlgID 9999 version "1" is not installed here/);
  const wrongScheme = await cmd({ CommandType: 'task_dispatch', DeviceID: 'edge-x', MessageBody: { TaskDispatchList: [{ ...base, InputInfo: { StreamURL: 'gopher://x' } }] } });
  t.match(wrongScheme.Message ?? '', /InputInfo\.StreamURL: scheme gopher: is not allowed \(file, rtsp/);
  const wrongDevice = await cmd({ CommandType: 'task_dispatch', DeviceID: 'edge-y', MessageBody: { TaskDispatchList: [base] } });
  t.match(wrongDevice.Message ?? '', /DeviceID: this executor is "edge-x"/);
  // Table 20 types TaskFrameRate as a bare int: the schema takes -1, EB2 refuses it naming the field.
  const badRate = await cmd({ CommandType: 'task_dispatch', DeviceID: 'edge-x', MessageBody: { TaskDispatchList: [{ ...base, InputInfo: { ...base.InputInfo, TaskFrameRate: -1 } }] } });
  t.equal(badRate.StatusCode, '1');
  t.match(badRate.Message ?? '', /InputInfo\.TaskFrameRate: must be 0 \(every frame\) to 1000 frames per second here \(is -1\)/);
  // A refusal is cut to its reply table's Message limit (PROTOCOL.md: ≤512 bytes; table 21 for
  // dispatch), on a character boundary: twenty unknown tasks with long Chinese IDs make ~4 KB.
  const unknownOps = Array.from({ length: 20 }, (_, i) => ({ TaskID: `任务${i}-${'长'.repeat(38)}`, Control: 1 }));
  const long = await cmd({ CommandType: 'task_ops_control', MessageBody: { OpsControlList: unknownOps } });
  t.equal(long.StatusCode, '1');
  t.match(long.Message ?? '', /^task 任务0-长+: TaskID: no such task on this executor; /, 'the handler\'s refusal, not a schema error');
  t.ok(P.utf8Bytes(long.Message ?? '') <= 512 && P.utf8Bytes(long.Message ?? '') > 400, `a long refusal is cut to 512 bytes (${P.utf8Bytes(long.Message ?? '')})`);
  t.ok(P.parse(P.TaskOpsControlReply, long).ok, 'and still validates as the table 24 reply');

  const ok = await cmd({ CommandType: 'task_dispatch', DeviceID: 'edge-x', MessageBody: { TaskDispatchList: [base] } });
  t.ok(P.parse(P.TaskDispatchReply, ok).ok);
  t.equal(ok.StatusCode, '0', 'EB1: accepted');
  await waitFor('running', async () => (ex.taskStatus('sub-1')?.ExecutionStatus === 1 ? true : undefined));
  const inUse = await cmd({ CommandType: 'algorithm_res_query', MessageBody: {} });
  t.equal((inUse as unknown as P.AlgorithmResQueryReply).AlgResourceList[0]?.AlgInfoList[0]?.AlgStatus, 0, 'AlgStatus 0 while in use');

  const control = (Control: number, extra: Record<string, unknown> = {}) => cmd({ CommandType: 'task_ops_control', MessageBody: { OpsControlList: [{ TaskID: 'sub-1', Control, ...extra }] } });
  t.equal((await control(2)).StatusCode, '0', 'EB3: pause');
  t.equal(ex.taskStatus('sub-1')?.ExecutionStatus, 2);
  t.equal((await control(2)).StatusCode, '1', 'pausing a paused task is refused');
  t.equal((await control(4)).StatusCode, '1', 'Control 4 without AlgArgs is refused');
  t.equal((await control(4, { AlgArgs: { Quality: 5 } })).StatusCode, '0', 'AlgArgs updated');
  t.equal((await control(3)).StatusCode, '0', 'resume');
  t.equal(ex.taskStatus('sub-1')?.ExecutionStatus, 1);
  await waitFor('a result at the peer', async () => (received.length > 0 ? true : undefined), 15_000);
  t.equal((await control(1)).StatusCode, '0', 'stop');
  t.equal(ex.taskStatus('sub-1')?.ExecutionStatus, 0);
  const unknown = await cmd({ CommandType: 'task_ops_control', MessageBody: { OpsControlList: [{ TaskID: 'nope', Control: 0 }] } });
  t.match(unknown.Message ?? '', /task nope: TaskID: no such task/);

  const st = await cmd({ CommandType: 'task_status_query', MessageBody: { DeviceList: [{ DeviceID: 'edge-x', HierarchicalQuery: '0', TaskIDList: ['sub-1'] }] } });
  const sp = P.parse(P.TaskStatusQueryReply, st);
  t.ok(sp.ok, 'table 29 reply');
  const ts = (st as unknown as P.TaskStatusQueryReply).TaskStatusSet[0]?.TaskStatusList ?? [];
  t.equal(ts.length, 1);
  t.equal(ts[0]?.TaskID, 'sub-1');
  t.equal(ts[0]?.ExecutionStatus, 0);

  // ED1: results went to the peer named by OutputURL, as valid table 26 bodies with our location.
  t.ok(received.length > 0, `ED1: ${received.length} results reached the peer`);
  t.ok(received.every((r) => P.parse(P.TaskResultBody, r).ok));
  t.equal(received[0]?.Longitude, '116.397128');
  t.strictSame(received[0]?.DstDeviceList, [{ DeviceID: 'peer-1' }]);
});
