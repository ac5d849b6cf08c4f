/**
 * Failure policies and status at the scheduler (SB10, SB11, S7, S8, 9.7): per-task retry rules by
 * ExceptionCode with backoff, migration when an executor reports itself short of resources,
 * rollback of a DAG whose stage fails for good, the real ExceptionCode of a placement failure,
 * and a stopped task's own state. A scheduler in this process (real SQLite) and fake executors
 * on real HTTP that record every command.
 */
import t, { type Test } from 'tap';
import http from 'node:http';
import { pino } from 'pino';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { ExceptionCode, ExecutionStatus, ExtendedExceptionCode, type CustomInfo, type TaskDispatchInfo } from '../../src/protocol/index.ts';
import { waitFor } from '../helpers/cluster.ts';

interface Seen { deviceId: string; type: string; body: Record<string, unknown>; at: number }
const ALGS = [{ AlgID: 1001, AlgType: 'frame_extraction', AlgVersion: '1.0.0', AlgStatus: 1 }, { AlgID: 1004, AlgType: 'result_fusion', AlgVersion: '1.0.0', AlgStatus: 1 }];

async function fake(deviceId: string, seen: Seen[], refuse?: (d: TaskDispatchInfo) => string | undefined): Promise<{ url: string; close(): void }> {
  const srv = http.createServer((req, res) => {
    let s = '';
    req.on('data', (c) => (s += c));
    req.on('end', () => {
      const j = JSON.parse(s || '{}');
      seen.push({ deviceId, type: j.CommandType, body: j.MessageBody ?? {}, at: Date.now() });
      const reply: Record<string, unknown> = { CommandType: j.CommandType, CommandIdx: j.CommandIdx, StatusCode: '0' };
      if (j.CommandType === 'algorithm_res_query') reply.AlgResourceList = [{ DeviceID: deviceId, AlgInfoList: ALGS }];
      const why = j.CommandType === 'task_dispatch' && refuse ? refuse(j.MessageBody.TaskDispatchList[0]) : undefined;
      if (why) { reply.StatusCode = '1'; reply.Message = why; }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(reply));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(srv.address() as { port: number }).port}/System/Command`, close: () => srv.close() };
}

async function setup(t: Test, refuse?: (d: TaskDispatchInfo) => string | undefined) {
  const seen: Seen[] = [];
  const a = await fake('edge-a', seen, refuse);
  const b = await fake('edge-b', seen, refuse);
  const s = new Scheduler({ deviceId: 'sched', dataDir: t.testdir({}), publicUrl: 'http://127.0.0.1:1', keepaliveSec: 60, maxRetries: 2, retryIntervalMs: 100, placementWaitMs: 200, log: pino({ level: 'silent' }) });
  t.teardown(async () => { await s.close(); a.close(); b.close(); });
  for (const [id, url] of [['edge-a', a.url], ['edge-b', b.url]] as const) {
    s.register({ DeviceID: id, DeviceType: '1', ProductType: 'fake', CommandURL: url });
    await s.refreshAlgorithms(id);
  }
  s.start();
  const submit = async (custom: Partial<CustomInfo>) => {
    const r = await s.submit({ TaskName: 'p', TaskType: 1, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: 'file:///x.mp4' }], AlgType: 'frame_extraction', ...custom } } });
    if (!r.ok) throw new Error(r.message);
    return r.taskId;
  };
  const dispatches = () => seen.filter((x) => x.type === 'task_dispatch');
  /** Plays the executor a subtask is on reporting it (once the scheduler has read the dispatch reply). */
  const report = async (subtaskId: string, status: number, code?: number, desc?: string) => {
    await waitFor('dispatch acknowledged', async () => ((s as unknown as { flags: { dispatching: Map<string, unknown> } }).flags.dispatching.has(subtaskId) ? undefined : true), 10_000, 5);
    s.onTaskStatus({ DeviceID: s.store.subtask(subtaskId)!.device_id, TaskStatusList: [{ TaskID: subtaskId, ExecutionStatus: status as 0, ...(code !== undefined ? { ExceptionCode: code } : {}), ...(desc ? { ExceptionDesc: desc } : {}) }] });
  };
  return { s, seen, submit, dispatches, report };
}

t.test('SB10: per-task retry rules by ExceptionCode, with exponential backoff; a code no rule names is not retried', async (t) => {
  const { s, submit, dispatches, report } = await setup(t);
  const id = await submit({ FailurePolicy: { Retry: [{ ExceptionCodes: [40], MaxAttempts: 2, IntervalMs: 150, Backoff: 3 }] } });
  const sub = `${id}.1`;
  await waitFor('dispatch 1', async () => (dispatches().length === 1 ? true : undefined));
  const gaps: number[] = [];
  for (let n = 1; n <= 2; n++) {
    await report(sub, ExecutionStatus.Error, ExceptionCode.TooSlow, 'too slow');
    const at = Date.now();
    await waitFor(`retry ${n}`, async () => (dispatches().length === n + 1 ? true : undefined), 10_000, 5);
    gaps.push(dispatches()[n]!.at - at);
  }
  t.ok(gaps[0]! >= 149, `first retry after ${gaps[0]} ms (IntervalMs 150)`);
  t.ok(gaps[1]! >= 449, `second after ${gaps[1]} ms (150 × Backoff 3)`);
  await report(sub, ExecutionStatus.Error, ExceptionCode.TooSlow, 'too slow');
  t.equal(s.store.subtask(sub)!.status, ExecutionStatus.Error, 'MaxAttempts 2: the third failure is final');
  t.equal(s.store.task(id)!.exception_code, ExceptionCode.TooSlow);

  const other = await submit({ FailurePolicy: { Retry: [{ ExceptionCodes: [40], MaxAttempts: 5 }] } });
  await waitFor('dispatch', async () => (s.store.subtask(`${other}.1`)?.device_id ? true : undefined));
  await report(`${other}.1`, ExecutionStatus.Error, ExceptionCode.RunError, 'crash');
  t.equal(s.store.subtask(`${other}.1`)!.status, ExecutionStatus.Error, '50 is not in this task\'s rules: not retried');
});

t.test('S7: a subtask whose executor reports it short of resources (20) moves to another executor', async (t) => {
  const { s, submit, dispatches, report } = await setup(t);
  const id = await submit({});
  await waitFor('dispatch', async () => (dispatches().length === 1 ? true : undefined));
  const first = s.store.subtask(`${id}.1`)!.device_id;
  await report(`${id}.1`, ExecutionStatus.Error, ExceptionCode.ShortOfResources, 'AvailableMemory below what the model needs');
  await waitFor('moved', async () => (dispatches().length === 2 ? true : undefined));
  t.not(dispatches()[1]!.deviceId, first, 'placed on the other executor');
  t.equal(s.store.subtask(`${id}.1`)!.device_id, dispatches()[1]!.deviceId);
});

t.test('SB11: a DAG whose stage fails for good is rolled back: the other stages are stopped and failed with 30, the task reports the real cause, results are kept', async (t) => {
  const { s, seen, submit, report } = await setup(t);
  const id = await submit({ TaskFrameRate: 1, Topology: { Stages: [{ Name: 'grab', After: [] }, { Name: 'fuse', AlgType: 'result_fusion', After: ['grab'], Join: true }] } });
  await waitFor('both placed', async () => (s.store.subtasks(id).every((x) => x.device_id !== '-') && s.store.subtasks(id).length === 2 ? true : undefined));
  await report(`${id}.1.grab`, ExecutionStatus.Running);
  s.onTaskResult({ CommandType: 'task_result', CommandIdx: 1, MessageBody: { TaskID: `${id}.fuse`, DeviceID: s.store.subtask(`${id}.fuse`)!.device_id, DstDeviceList: [], AlgID: 1004, AlgVersion: '1.0.0', Ts: 1, TaskResultData: {} } }, 'x');
  await report(`${id}.fuse`, ExecutionStatus.Error, ExceptionCode.EnvUnsupported, 'no such model');
  await waitFor('grab stopped on its executor', async () => (seen.some((x) => x.type === 'task_ops_control' && JSON.stringify(x.body).includes(`${id}.1.grab`)) ? true : undefined));
  const grab = s.store.subtask(`${id}.1.grab`)!;
  t.equal(grab.status, ExecutionStatus.Error);
  t.equal(grab.exception_code, ExceptionCode.UpstreamFailed, 'rolled back: 30');
  const task = s.store.task(id)!;
  t.equal(task.status, ExecutionStatus.Error, 'one consistent state');
  t.equal(task.exception_code, ExceptionCode.EnvUnsupported, 'with the real cause');
  await report(`${id}.1.grab`, ExecutionStatus.Done, undefined, 'stopped by task_ops_control');
  t.equal(s.store.subtask(`${id}.1.grab`)!.status, ExecutionStatus.Error, 'the stopped copy\'s later report does not change it');
  t.equal(s.store.resultCount(id), 1, 'what was delivered is kept');
});

t.test('S8: a placement failure carries its real ExceptionCode (60 source refused, 10 environment)', async (t) => {
  const { s, submit } = await setup(t, (d) => d.InputInfo.StreamURL?.includes('bad') ? 'InputInfo.StreamURL: scheme of "gopher://bad" is not supported' : d.InputInfo.StreamURL?.includes('env') ? 'AlgModelInfo: AlgID 1001 version "1.0.0" is not usable here' : undefined);
  const bad = await submit({ Inputs: [{ StreamURL: 'file:///bad.mp4' }] });
  const env = await submit({ Inputs: [{ StreamURL: 'file:///env.mp4' }] });
  const end = (id: string) => waitFor('placement failed', async () => (s.store.subtask(`${id}.1`)?.status === ExecutionStatus.Error ? s.store.subtask(`${id}.1`)! : undefined));
  t.equal((await end(bad)).exception_code, ExceptionCode.DataSourceError, '60: every executor refused the source');
  t.equal((await end(env)).exception_code, ExceptionCode.EnvUnsupported, '10: every executor refused the environment');
  t.equal(s.store.task(bad)!.exception_code, ExceptionCode.DataSourceError);
});

t.test('9.7: a stopped task reports its own state — ExecutionStatus 0 with ExceptionCode 90 — distinct from done', async (t) => {
  const { s, submit, report } = await setup(t);
  const stopped = await submit({});
  const done = await submit({});
  for (const id of [stopped, done]) await waitFor('placed', async () => (s.store.subtask(`${id}.1`)?.device_id ? true : undefined));
  t.strictSame(await s.control([{ TaskID: stopped, Control: 1 }]), [], 'stop accepted');
  await report(`${stopped}.1`, ExecutionStatus.Done, undefined, 'stopped by task_ops_control');
  await report(`${done}.1`, ExecutionStatus.Done);
  const st = s.taskStatus(s.store.task(stopped)!);
  t.equal(st.ExecutionStatus, 0);
  t.equal(st.ExceptionCode, ExtendedExceptionCode.Stopped, 'stopped: 90');
  t.equal(s.taskInfo(stopped)!.SubtaskInfoList![0]!.TaskStatusInfo.ExceptionCode, 90, 'its subtask says so too');
  const dn = s.taskStatus(s.store.task(done)!);
  t.equal(dn.ExecutionStatus, 0);
  t.equal(dn.ExceptionCode, undefined, 'done: no code');
});
