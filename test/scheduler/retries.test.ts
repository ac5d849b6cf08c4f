/**
 * SB10: a failed subtask is rescheduled up to the maximum number of retries, after the retry
 * interval, and only for exception codes worth another try (20 short of resources, 40 too slow,
 * 50 run error); 10 (environment unsupported) and 60 (data source) fail at once. A scheduler in
 * this process with two fake executors that accept every dispatch; the test plays their status
 * reports.
 */
import t, { type Test } from 'tap';
import http from 'node:http';
import path from 'node:path';
import { copyFileSync, readFileSync } from 'node:fs';
import { pino } from 'pino';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { ExceptionCode, ExecutionStatus } from '../../src/protocol/index.ts';
import { waitFor } from '../helpers/cluster.ts';
import { defined } from '../helpers/defined.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

interface Dispatch { deviceId: string; taskId: string; at: number }

const FRAME_EXTRACTION = [{ AlgID: 1001, AlgType: 'frame_extraction', AlgVersion: '1.0.0', AlgStatus: 1 }];

/** An executor that offers `algs` (frame extraction by default), accepts every command (answering a dispatch after `dispatchReplyMs`), and records the dispatches. */
async function fakeExecutor(deviceId: string, dispatches: Dispatch[], algs: unknown[] = FRAME_EXTRACTION, dispatchReplyMs = 0): Promise<{ url: string; close(): void }> {
  const srv = http.createServer((req, res) => {
    let s = '';
    req.on('data', (c) => (s += c));
    req.on('end', () => {
      const j = JSON.parse(s || '{}');
      const reply: Record<string, unknown> = { CommandType: j.CommandType, CommandIdx: j.CommandIdx, StatusCode: '0' };
      if (j.CommandType === 'algorithm_res_query') reply.AlgResourceList = [{ DeviceID: deviceId, AlgInfoList: algs }];
      if (j.CommandType === 'task_dispatch') for (const d of j.MessageBody.TaskDispatchList) dispatches.push({ deviceId, taskId: d.TaskID, at: Date.now() });
      res.setHeader('content-type', 'application/json');
      if (j.CommandType === 'task_dispatch' && dispatchReplyMs) setTimeout(() => res.end(JSON.stringify(reply)), dispatchReplyMs);
      else res.end(JSON.stringify(reply));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(srv.address() as { port: number }).port}/System/Command`, close: () => srv.close() };
}

const MAX_RETRIES = 2;
const RETRY_INTERVAL_MS = 300;

async function setup(t: Test) {
  const dispatches: Dispatch[] = [];
  const a = await fakeExecutor('edge-a', dispatches);
  const b = await fakeExecutor('edge-b', dispatches);
  const s = new Scheduler({ deviceId: 'sched', dataDir: t.testdir({}), publicUrl: 'http://127.0.0.1:1', keepaliveSec: 60, maxRetries: MAX_RETRIES, retryIntervalMs: RETRY_INTERVAL_MS, log: pino({ level: 'silent' }) });
  t.teardown(async () => { await s.close(); a.close(); b.close(); });
  for (const [id, url] of [['edge-a', a.url], ['edge-b', b.url]] as const) {
    s.register({ DeviceID: id, DeviceType: '1', ProductType: 'fake', CommandURL: url });
    await s.refreshAlgorithms(id);
  }
  s.start();
  const r = await s.submit({ TaskName: 'fails', TaskType: 1, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: 'file:///x.mp4' }], AlgType: 'frame_extraction' } } });
  if (!r.ok) throw new Error(r.message);
  const subtaskId = await waitFor('first dispatch', async () => dispatches[0]?.taskId, 10_000, 20);
  const sub = () => s.store.subtask(subtaskId)!;
  /** Plays the executor the subtask is on reporting that it failed with `code`. */
  const fail = (code: number) => s.onTaskStatus({ DeviceID: sub().device_id, TaskStatusList: [{ TaskID: subtaskId, ExecutionStatus: ExecutionStatus.Error, ExceptionCode: code, ExceptionDesc: `failed with ${code}` }] });
  return { s, dispatches, sub, fail, taskId: r.taskId, subtaskId };
}

/** Waits until the scheduler has read the executor's reply to the subtask's dispatch (an executor reports only after it). */
const acknowledged = (s: Scheduler, subtaskId: string) =>
  waitFor('the dispatch reply read', async () => ((s as unknown as { flags: { dispatching: Map<string, unknown> } }).flags.dispatching.has(subtaskId) ? undefined : true), 10_000, 5);

t.test('SB10: a retryable failure (50 run error) is retried after the interval, up to the maximum, then fails with its code', async (t) => {
  const { s, dispatches, sub, fail, taskId, subtaskId } = await setup(t);
  for (let attempt = 1; attempt <= MAX_RETRIES; attempt++) {
    await acknowledged(s, subtaskId);
    const failedAt = Date.now();
    fail(ExceptionCode.RunError);
    // Waiting for the retry: queued (ExecutionStatus 3), the code kept, not yet dispatched again.
    t.equal(sub().status, ExecutionStatus.Queued, `failure ${attempt}: queued for a retry`);
    t.equal(sub().exception_code, ExceptionCode.RunError, 'with the code that failed it');
    t.equal(dispatches.length, attempt, 'not dispatched again at once');
    await waitFor(`retry ${attempt}`, async () => (dispatches.length === attempt + 1 ? true : undefined), 10_000, 20);
    // Timers never fire early (a millisecond of rounding aside): the retry waited the interval.
    const retry = defined(dispatches[attempt], `dispatch ${attempt}`), failed = defined(dispatches[attempt - 1], `dispatch ${attempt - 1}`);
    t.ok(retry.at - failedAt >= RETRY_INTERVAL_MS - 1, `retry ${attempt} dispatched no sooner than the ${RETRY_INTERVAL_MS} ms interval`);
    t.not(retry.deviceId, failed.deviceId, 'on another executor than the one it failed on');
    t.equal(sub().attempts, attempt + 1, `attempt ${attempt + 1} recorded`);
  }
  await acknowledged(s, subtaskId);
  fail(ExceptionCode.RunError);
  t.equal(sub().status, ExecutionStatus.Error, `after ${MAX_RETRIES} retries the next failure is final`);
  t.equal(sub().exception_code, ExceptionCode.RunError);
  t.equal(s.store.task(taskId)?.status, ExecutionStatus.Error, 'and so is the task');
  // A retry timer only places a subtask that is still queued: one in error is never dispatched again.
  t.equal(dispatches.length, 1 + MAX_RETRIES, `${dispatches.length} dispatches: the first and ${MAX_RETRIES} retries`);
});

for (const code of [ExceptionCode.DataSourceError, ExceptionCode.EnvUnsupported]) {
  t.test(`SB10: a failure with ExceptionCode ${code} is not retried`, async (t) => {
    const { s, dispatches, sub, fail, taskId } = await setup(t);
    fail(code);
    t.equal(sub().status, ExecutionStatus.Error, 'failed at once, not queued for a retry');
    t.equal(sub().exception_code, code);
    t.equal(s.store.task(taskId)?.status, ExecutionStatus.Error);
    t.equal(dispatches.length, 1, 'dispatched once only');
  });
}

t.test('SB10: a retry with only the excluded executor left places it there again, also when it has the algorithm only from the repository', async (t) => {
  // One executor whose algorithm list predates the install (it lists nothing); the package is in
  // the scheduler's repository. Before the fix the retry excluded it and found "no online
  // executor offers the algorithm" (seen as a flaky OCR test under load).
  const dispatches: Dispatch[] = [];
  const ex = await fakeExecutor('edge-only', dispatches, []);
  const dir = t.testdir({ keys: {} });
  copyFileSync(path.join(ROOT, 'plugins-sdk', 'examples', 'build', 'keys', 'publisher.pub'), path.join(dir, 'keys', 'examples.pub'));
  const s = new Scheduler({ deviceId: 'sched', dataDir: path.join(dir, 'data'), publicUrl: 'http://127.0.0.1:1', keepaliveSec: 60, maxRetries: 2, retryIntervalMs: 50,
    placementWaitMs: 500, trustedKeysDir: path.join(dir, 'keys'), log: pino({ level: 'silent' }) });
  t.teardown(async () => { await s.close(); ex.close(); });
  s.repository.publish(readFileSync(path.join(ROOT, 'plugins-sdk', 'examples', 'build', 'motion_detection-1.0.0.rpk')));
  s.register({ DeviceID: 'edge-only', DeviceType: '1', ProductType: 'fake', CommandURL: ex.url });
  await s.refreshAlgorithms('edge-only');
  s.start();
  const r = await s.submit({ TaskName: 'repo', TaskType: 6, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: 'file:///x.mp4' }], AlgType: 'motion_detection' } } });
  t.ok(r.ok, 'accepted through the repository');
  const subtaskId = await waitFor('first dispatch', async () => dispatches[0]?.taskId, 10_000, 20);
  s.onTaskStatus({ DeviceID: 'edge-only', TaskStatusList: [{ TaskID: subtaskId, ExecutionStatus: ExecutionStatus.Error, ExceptionCode: ExceptionCode.RunError, ExceptionDesc: 'deadline' }] });
  await waitFor('the retry', async () => (dispatches.length === 2 ? true : undefined), 10_000, 20);
  t.equal(dispatches[1]?.deviceId, 'edge-only', 'retried on the only executor there is');
  t.equal(s.store.subtask(subtaskId)?.status, ExecutionStatus.Queued, 'placed again (queued on it), not failed with ExceptionCode 20');
});

t.test('SB10/S5: a report from the executor a retry is being dispatched to, read before the dispatch reply, is applied once the reply is read', async (t) => {
  const dispatches: Dispatch[] = [];
  const a = await fakeExecutor('edge-a', dispatches, FRAME_EXTRACTION, 300);
  const b = await fakeExecutor('edge-b', dispatches, FRAME_EXTRACTION, 300);
  const s = new Scheduler({ deviceId: 'sched', dataDir: t.testdir({}), publicUrl: 'http://127.0.0.1:1', keepaliveSec: 60, maxRetries: 2, retryIntervalMs: 50, log: pino({ level: 'silent' }) });
  t.teardown(async () => { await s.close(); a.close(); b.close(); });
  for (const [id, url] of [['edge-a', a.url], ['edge-b', b.url]] as const) {
    s.register({ DeviceID: id, DeviceType: '1', ProductType: 'fake', CommandURL: url });
    await s.refreshAlgorithms(id);
  }
  s.start();
  const r = await s.submit({ TaskName: 'early', TaskType: 1, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: 'file:///x.mp4' }], AlgType: 'frame_extraction' } } });
  if (!r.ok) throw new Error(r.message);
  const subtaskId = await waitFor('first dispatch', async () => dispatches[0]?.taskId, 10_000, 20);
  await acknowledged(s, subtaskId);
  const first = defined(dispatches[0], 'dispatch 0').deviceId;
  s.onTaskStatus({ DeviceID: first, TaskStatusList: [{ TaskID: subtaskId, ExecutionStatus: ExecutionStatus.Error, ExceptionCode: ExceptionCode.RunError, ExceptionDesc: 'crash' }] });
  await waitFor('the retry dispatch received', async () => (dispatches.length === 2 ? true : undefined), 10_000, 5);
  const second = defined(dispatches[1], 'dispatch 1').deviceId;
  t.not(second, first);
  // The new executor starts and reports while its reply to the dispatch is still on the way.
  s.onTaskStatus({ DeviceID: second, TaskStatusList: [{ TaskID: subtaskId, ExecutionStatus: ExecutionStatus.Running, Progress: 30 }] });
  t.equal(s.store.subtask(subtaskId)?.status, ExecutionStatus.Queued, 'held while the dispatch reply is outstanding');
  await waitFor('the early report applied', async () => (s.store.subtask(subtaskId)?.status === ExecutionStatus.Running ? true : undefined), 10_000, 10);
  t.equal(s.store.subtask(subtaskId)?.progress, 30, 'its progress too');
  t.equal(s.store.subtask(subtaskId)?.device_id, second);
});
