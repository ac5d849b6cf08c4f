/**
 * SB12/EB6/EM5 on the executor's side (src/runtime/resume-floor.ts): a retry of a subtask that
 * failed on this executor resumes after the last result the executor queued for it, not only
 * after the last one the scheduler had stored. The case that matters: the executor stops with
 * results still in its outbox, comes back, delivers them at once, and only then gets the retry,
 * whose StartOffsetMs the scheduler read before those results arrived. Every frame must reach the
 * destination exactly once.
 */
import t from 'tap';
import http from 'node:http';
import path from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { Executor } from '../../src/runtime/executor.ts';
import { ExecTask } from '../../src/runtime/exec-task.ts';
import { reachedMs, resumedPastOwn } from '../../src/runtime/resume-floor.ts';
import { createExecutorServer } from '../../src/api/executor-server.ts';
import { RetinaClient } from '../../src/net/client.ts';
import { ExceptionCode, ExecutionStatus, imageInfoPts, type TaskDispatchInfo, type TaskResultBody } from '../../src/protocol/index.ts';
import { TEST_EXECUTOR_OPTIONS } from '../helpers/nodes.ts';
import { slowSource } from '../helpers/slow-source.ts';
import { waitFor } from '../helpers/cluster.ts';

const log = pino({ level: 'silent' });

const dispatch = (args: Record<string, unknown> = {}, url = 'file:///clip.mp4'): TaskDispatchInfo => ({
  TaskID: 'sub-1', TaskAttr: 0, AlgModelInfo: { AlgID: 1001, AlgVersion: '1.0.0' }, InputInfo: { StreamURL: url, TaskFrameRate: 2, AlgArgs: args }, DstDeviceList: [],
});

/** This executor's copy of sub-1, failed after queuing results up to `queuedUpToMs` (and a frame at `lastPts`). */
function failedCopy(o: { queuedUpToMs?: number; lastPts?: number; startMs?: number; status?: ExecutionStatus } = {}): ExecTask {
  const task = new ExecTask(dispatch(o.startMs === undefined ? {} : { StartOffsetMs: o.startMs }), 1);
  task.transition(ExecutionStatus.Running);
  task.transition(o.status ?? ExecutionStatus.Error, { code: ExceptionCode.RunError, desc: 'interrupted: the executor restarted' });
  task.queuedUpToMs = o.queuedUpToMs ?? -1;
  task.lastPtsMs = o.lastPts ?? -1;
  return task;
}

t.test('SB12: which retries resume past what this executor queued, and from where', async (t) => {
  const retryHere = { StartOffsetMs: 1000, Retry: { Attempt: 2, DeviceID: 'edge-x' } };
  const start = (info: TaskDispatchInfo) => info.InputInfo.AlgArgs?.StartOffsetMs;
  t.equal(start(resumedPastOwn(failedCopy({ queuedUpToMs: 4001 }), dispatch(retryHere), 'edge-x')), 4001, 'past the last queued result (restored from the outbox)');
  t.equal(start(resumedPastOwn(failedCopy({ lastPts: 5500 }), dispatch(retryHere), 'edge-x')), 6000, 'a frame interval (TaskFrameRate 2) past the last frame this process analysed');
  t.equal(start(resumedPastOwn(failedCopy({ startMs: 3000 }), dispatch(retryHere), 'edge-x')), 3000, 'never before where the failed run itself started');
  t.equal(start(resumedPastOwn(failedCopy({ queuedUpToMs: 500 }), dispatch(retryHere), 'edge-x')), 1000, 'the scheduler\'s position when it is further');
  t.equal(start(resumedPastOwn(failedCopy({ queuedUpToMs: 4001 }), dispatch({ ...retryHere, Retry: { Attempt: 2, DeviceID: 'edge-y' } }), 'edge-x')), 1000,
    'a retry whose failed attempt ran elsewhere: this copy (an older placement) says nothing of it');
  t.equal(start(resumedPastOwn(failedCopy({ queuedUpToMs: 4001 }), dispatch({ StartOffsetMs: 1000 }), 'edge-x')), 1000, 'not a retry (no Retry argument): as asked');
  t.equal(start(resumedPastOwn(failedCopy({ queuedUpToMs: 4001 }), dispatch({ Retry: retryHere.Retry }), 'edge-x')), undefined, 'no StartOffsetMs: the scheduler does not resume it by position');
  t.equal(start(resumedPastOwn(failedCopy({ queuedUpToMs: 4001 }), dispatch(retryHere, 'file:///other.mp4'), 'edge-x')), 1000, 'another input: as asked');
  t.equal(start(resumedPastOwn(failedCopy({ queuedUpToMs: 4001, status: ExecutionStatus.Done }), dispatch(retryHere), 'edge-x')), 1000, 'a copy that finished well is no failed attempt');
  t.equal(start(resumedPastOwn(undefined, dispatch(retryHere), 'edge-x')), 1000, 'no copy here: as asked');
  t.equal(reachedMs(failedCopy()), -1, 'a copy that got nowhere');
});

/** A destination node that refuses (503) until `accept` is set, then keeps each task_result. */
async function destination(): Promise<{ url: string; received: TaskResultBody[]; accept: boolean; close(): void }> {
  const d = { url: '', received: [] as TaskResultBody[], accept: false, close: () => srv.close() };
  const srv = http.createServer((req, res) => {
    let s = '';
    req.on('data', (c: Buffer) => (s += c.toString()));
    req.on('end', () => {
      const j = JSON.parse(s || '{}') as { CommandType?: string; CommandIdx?: number; MessageBody?: TaskResultBody };
      res.setHeader('content-type', 'application/json');
      if (!d.accept) { res.statusCode = 503; res.end(JSON.stringify({ CommandType: j.CommandType, CommandIdx: j.CommandIdx, StatusCode: '1', Message: 'not yet' })); return; }
      if (j.CommandType === 'task_result' && j.MessageBody) d.received.push(j.MessageBody);
      res.end(JSON.stringify({ CommandType: j.CommandType, CommandIdx: j.CommandIdx, StatusCode: '0' }));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  d.url = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
  return d;
}

async function executorOn(dataDir: string): Promise<{ ex: Executor; url: string; close(): Promise<void> }> {
  const ex = new Executor({ deviceId: 'edge-x', dataDir, commandUrl: 'http://unused', token: 'tok', log, ...TEST_EXECUTOR_OPTIONS });
  const app = createExecutorServer(ex, { token: 'tok', log });
  await app.listen({ host: '127.0.0.1', port: 0 });
  await ex.start();
  return { ex, url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`, close: async () => { await ex.close(); await app.close(); } };
}

t.test('EM5/SB12: an executor restarted with results in its outbox delivers them, and the retry starts after them: every frame once', async (t) => {
  const dir = t.testdir({});
  const dataDir = path.join(dir, 'edge-x');
  const dst = await destination();
  // The 10 s clip, served over 4 s: 20 frames at TaskFrameRate 2, at Pts 0, 500, ... 9500.
  const src = await slowSource(path.join(dir, 'clip.ts'), 4);
  const client = new RetinaClient({ token: 'tok', senderId: 'test-scheduler' });
  t.teardown(async () => { dst.close(); src.close(); await client.close(); });
  const work: TaskDispatchInfo = { ...dispatch({}, src.url), DstDeviceList: [{ DeviceID: 'peer-1', OutputURL: dst.url }] };
  const send = (url: string, info: TaskDispatchInfo) => client.command(url, { CommandIdx: client.commandIdx(), CommandType: 'task_dispatch', DeviceID: 'edge-x', MessageBody: { TaskDispatchList: [info] } });

  // The first run: its results wait in the outbox (the destination refuses them); the executor stops mid-clip.
  const first = await executorOn(dataDir);
  t.equal((await send(first.url, work)).StatusCode, '0', 'dispatched');
  const queued = () => {
    const db = new Database(path.join(dataDir, 'executor.db'), { readonly: true });
    try { return (db.prepare("SELECT COUNT(*) AS n FROM outbox WHERE json_extract(body, '$.body.CommandType') = 'task_result'").get() as { n: number }).n; } finally { db.close(); }
  };
  await waitFor('four results queued', async () => (queued() >= 4 ? true : undefined), 20_000);
  await first.close();
  const left = queued();
  t.ok(left >= 4 && left < 20, `${left} results left in the outbox, mid-clip`);

  // Back on the same data directory: the outbox delivers what was left before any retry arrives.
  dst.accept = true;
  const again = await executorOn(dataDir);
  t.teardown(() => again.close());
  await waitFor('the left results delivered', async () => (dst.received.length >= left ? true : undefined), 30_000);
  t.equal(again.ex.taskStatus('sub-1')?.ExecutionStatus, ExecutionStatus.Error, 'the interrupted copy is held as failed');

  // The scheduler's retry, with the position it had read before those arrived (nothing stored: 0).
  t.equal((await send(again.url, { ...work, InputInfo: { ...work.InputInfo, AlgArgs: { StartOffsetMs: 0, Retry: { Attempt: 2, DeviceID: 'edge-x' } } } })).StatusCode, '0', 'retry dispatched');
  await waitFor('the retry done', async () => (again.ex.taskStatus('sub-1')?.ExecutionStatus === ExecutionStatus.Done ? true : undefined), 60_000);
  await waitFor('its results delivered', async () => (queued() === 0 ? true : undefined), 30_000);
  const pts = dst.received.map((b) => imageInfoPts(b.TaskResultData.ImageResult?.ImageInfo) ?? -1);
  t.equal(new Set(pts).size, pts.length, `no frame delivered twice: ${pts.join(' ')}`);
  // The retry samples on a grid of its own (from its start), so a frame may sit a source frame off
  // the first run's grid: between neighbours, half an interval at least (none twice) and one and a
  // half at most (none lost).
  const sorted = [...pts].sort((a, b) => a - b);
  const gaps = sorted.slice(1).map((p, i) => p - sorted[i]!);
  t.ok(gaps.every((g) => g >= 250 && g <= 750), `every frame of the clip, none lost: gaps ${gaps.join(' ')}`);
  t.ok(sorted[0] === 0 && sorted.at(-1)! >= 9400, `from the first frame to the last: ${sorted[0]} to ${sorted.at(-1)}`);
});
