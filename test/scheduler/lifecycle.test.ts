/**
 * Life cycle guards (table 31, issue 11 item 4): a done or failed subtask does not go back to
 * queued or running on a late report (the report is logged and ignored); and a retry whose
 * dispatch is in flight when its target is marked offline never leaves two live copies: the
 * late copy is told to stop and the subtask runs on one executor only. An in-process Scheduler
 * with fake executors (as in retries.test.ts); time for liveness is an injected clock.
 */
import t, { type Test } from 'tap';
import http from 'node:http';
import { pino } from 'pino';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { ExceptionCode, ExecutionStatus } from '../../src/protocol/index.ts';
import { waitFor } from '../helpers/cluster.ts';

interface Cmd { deviceId: string; type: string; taskId: string }

/** An executor that records commands; while `hold` is set, task_dispatch answers wait for it. */
async function fakeExecutor(deviceId: string, cmds: Cmd[]) {
  const f = { url: '', hold: null as null | Promise<void>, close: () => undefined as void };
  const srv = http.createServer((req, res) => {
    let s = '';
    req.on('data', (c) => (s += c));
    // A failure in this fake is a broken test: left unhandled, tap reports it as one.
    req.on('end', () => void (async () => {
      const j = JSON.parse(s || '{}');
      const reply: Record<string, unknown> = { CommandType: j.CommandType, CommandIdx: j.CommandIdx, StatusCode: '0' };
      if (j.CommandType === 'algorithm_res_query') reply.AlgResourceList = [{ DeviceID: deviceId, AlgInfoList: [{ AlgID: 1001, AlgType: 'frame_extraction', AlgVersion: '1.0.0', AlgStatus: 1 }] }];
      if (j.CommandType === 'task_dispatch') for (const d of j.MessageBody.TaskDispatchList) cmds.push({ deviceId, type: 'dispatch', taskId: d.TaskID });
      if (j.CommandType === 'task_ops_control') for (const o of j.MessageBody.OpsControlList) cmds.push({ deviceId, type: `control:${o.Control}`, taskId: o.TaskID });
      if (j.CommandType === 'task_dispatch' && f.hold) await f.hold;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(reply));
    })());
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  f.url = `http://127.0.0.1:${(srv.address() as { port: number }).port}/System/Command`;
  f.close = () => { srv.closeAllConnections(); srv.close(); };
  return f;
}

const lines: string[] = [];
const log = pino({ level: 'info' }, { write: (l: string) => { lines.push(l); } });
const said = (msg: string) => lines.filter((l) => (JSON.parse(l) as { msg: string }).msg === msg).length;

async function setup(t: Test) {
  const cmds: Cmd[] = [];
  const ex = { 'edge-a': await fakeExecutor('edge-a', cmds), 'edge-b': await fakeExecutor('edge-b', cmds) };
  let now = Date.now();
  const clock = { get: () => now, set: (v: number) => { now = v; } };
  const s = new Scheduler({ deviceId: 'sched', dataDir: t.testdir({}), publicUrl: 'http://127.0.0.1:1', keepaliveSec: 1, retryIntervalMs: 1, now: () => now, log });
  t.teardown(async () => { await s.close(); for (const e of Object.values(ex)) e.close(); });
  for (const [id, e] of Object.entries(ex)) {
    s.register({ DeviceID: id, DeviceType: '1', ProductType: 'fake', CommandURL: e.url });
    await s.refreshAlgorithms(id);
  }
  const r = await s.submit({ TaskName: 'x', TaskType: 1, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: 'file:///x.mp4' }], AlgType: 'frame_extraction' } } });
  if (!r.ok) throw new Error(r.message);
  const subtaskId = await waitFor('first dispatch', async () => cmds.find((c) => c.type === 'dispatch')?.taskId, 10_000, 10);
  await waitFor('placed', async () => (s.store.subtask(subtaskId)?.device_id !== '-' ? true : undefined), 10_000, 10);
  return { s, ex, cmds, clock, subtaskId, taskId: r.taskId, sub: () => s.store.subtask(subtaskId)! };
}

t.test('table 31: a late "queued" or "running" report does not move a done subtask back; it is logged and ignored', async (t) => {
  const { s, sub, subtaskId, taskId } = await setup(t);
  const dev = sub().device_id;
  s.onTaskStatus({ DeviceID: dev, TaskStatusList: [{ TaskID: subtaskId, ExecutionStatus: ExecutionStatus.Done, Progress: 100 }] });
  t.equal(sub().status, ExecutionStatus.Done, 'done');
  t.equal(s.store.task(taskId)?.status, ExecutionStatus.Done, 'and so is the task');
  lines.length = 0;
  s.onTaskStatus({ DeviceID: dev, TaskStatusList: [{ TaskID: subtaskId, ExecutionStatus: ExecutionStatus.Queued, Progress: 0 }] });
  s.onTaskStatus({ DeviceID: dev, TaskStatusList: [{ TaskID: subtaskId, ExecutionStatus: ExecutionStatus.Running, Progress: 50 }] });
  t.equal(sub().status, ExecutionStatus.Done, 'still done after late queued and running reports');
  t.equal(sub().progress, 100, 'progress untouched');
  t.equal(s.store.task(taskId)?.status, ExecutionStatus.Done, 'the task stays done');
  t.equal(said('stale status report ignored'), 2, 'each stale report logged');
});

t.test('table 31: a failed subtask stays failed; a repeated error report starts no retry', async (t) => {
  const { s, sub, subtaskId, cmds } = await setup(t);
  const dev = sub().device_id;
  s.onTaskStatus({ DeviceID: dev, TaskStatusList: [{ TaskID: subtaskId, ExecutionStatus: ExecutionStatus.Error, ExceptionCode: ExceptionCode.DataSourceError, ExceptionDesc: 'no source' }] });
  t.equal(sub().status, ExecutionStatus.Error, 'failed (60 is not retried)');
  s.onTaskStatus({ DeviceID: dev, TaskStatusList: [{ TaskID: subtaskId, ExecutionStatus: ExecutionStatus.Running, Progress: 10 }] });
  s.onTaskStatus({ DeviceID: dev, TaskStatusList: [{ TaskID: subtaskId, ExecutionStatus: ExecutionStatus.Error, ExceptionCode: ExceptionCode.RunError, ExceptionDesc: 'again' }] });
  await new Promise((r) => setTimeout(r, 50));
  t.equal(sub().status, ExecutionStatus.Error, 'still failed');
  t.equal(sub().exception_code, ExceptionCode.DataSourceError, 'with its first code');
  t.equal(cmds.filter((c) => c.type === 'dispatch').length, 1, 'never dispatched again');
});

t.test('SB10/S7: a retry whose dispatch is in flight when its target goes offline leaves one live copy', async (t) => {
  const { s, ex, cmds, clock, sub, subtaskId } = await setup(t);
  const first = sub().device_id as 'edge-a' | 'edge-b';
  const second = first === 'edge-a' ? 'edge-b' : 'edge-a';
  let release!: () => void;
  ex[second].hold = new Promise<void>((r) => { release = r; });
  // The subtask fails where it ran: the retry goes to the other executor, whose answer is held.
  s.onTaskStatus({ DeviceID: first, TaskStatusList: [{ TaskID: subtaskId, ExecutionStatus: ExecutionStatus.Error, ExceptionCode: ExceptionCode.RunError, ExceptionDesc: 'crash' }] });
  await waitFor('retry dispatch in flight', async () => (cmds.filter((c) => c.type === 'dispatch').length === 2 ? true : undefined), 10_000, 5);
  t.equal(cmds.at(-1)?.deviceId, second, 'the retry went to the other executor');
  // Meanwhile the retry's target misses its keepalives (the first one keeps sending).
  clock.set(clock.get() + 3500);
  s.keepalive(first);
  s.liveness.startChecks(clock.get() - 500);
  (s as unknown as { checkLiveness(): void }).checkLiveness();
  t.equal(s.store.device(second)?.online, 0, 'the retry target is marked offline while its dispatch is in flight');
  await new Promise((r) => setTimeout(r, 50));
  t.equal(cmds.filter((c) => c.type === 'dispatch').length, 2, 'no second retry is started while the first is in flight');
  release();
  await waitFor('placed on one executor', async () => (cmds.filter((c) => c.type === 'dispatch').length === 3 ? true : undefined), 10_000, 5);
  await waitFor('late copy stopped', async () => (cmds.some((c) => c.deviceId === second && c.type.startsWith('control:')) ? true : undefined), 10_000, 5);
  t.equal([...cmds].reverse().find((c) => c.type === 'dispatch')?.deviceId, first, 'placed again on the executor that is online');
  t.equal(sub().device_id, first, 'the subtask is recorded on that executor');
  t.not(sub().status, ExecutionStatus.Error, 'and has not failed');
  t.ok(cmds.some((c) => c.deviceId === second && c.taskId === subtaskId && c.type.startsWith('control:')), 'the copy the offline executor accepted late was told to stop');
  await new Promise((r) => setTimeout(r, 50));
  t.equal(cmds.filter((c) => c.type === 'dispatch').length, 3, 'and nothing more was dispatched: one live copy');
});

t.test('table 31: a failure the scheduler assumed (no dispatch acknowledged) yields to the executor\'s own later report', async (t) => {
  const { s, ex, sub, subtaskId, cmds } = await setup(t);
  const dev = sub().device_id as 'edge-a' | 'edge-b';
  // Play what place() records when every dispatch went unanswered: Error, decided without the executor.
  (s as unknown as { flags: { unconfirmedFailures: Set<string> } }).flags.unconfirmedFailures.add(subtaskId);
  s.store.setSubtaskStatus(subtaskId, { status: ExecutionStatus.Error, exceptionCode: ExceptionCode.ShortOfResources, exceptionDesc: 'no executor accepted the subtask: timeout' });
  s.onTaskStatus({ DeviceID: dev, TaskStatusList: [{ TaskID: subtaskId, ExecutionStatus: ExecutionStatus.Running, Progress: 20 }] });
  t.equal(sub().status, ExecutionStatus.Running, 'the executor that did take it says it runs: accepted');
  s.onTaskStatus({ DeviceID: dev, TaskStatusList: [{ TaskID: subtaskId, ExecutionStatus: ExecutionStatus.Done, Progress: 100 }] });
  s.onTaskStatus({ DeviceID: dev, TaskStatusList: [{ TaskID: subtaskId, ExecutionStatus: ExecutionStatus.Running, Progress: 50 }] });
  t.equal(sub().status, ExecutionStatus.Done, 'and once done, final again');
  t.ok(ex && cmds.length >= 1);
});
