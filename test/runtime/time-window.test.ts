/**
 * SB4 (timed start) and table 20 ExecutionCond.TimeRange: a TaskAttr 1 task waits queued
 * (ExecutionStatus 3) until its window opens, every result is made inside the window, and the task
 * ends at the window's end although its source has more to give. EM3: the task's
 * ResourcesOccupied.FramesOut is what it delivered.
 */
import t from 'tap';
import path from 'node:path';
import { RetinaClient } from '../../src/net/client.ts';
import { ExecutionStatus, formatRetinaDateTime, parseRetinaDateTime } from '../../src/protocol/index.ts';
import { slowSource } from '../helpers/slow-source.ts';
import { waitFor } from '../helpers/cluster.ts';
import { startExecutor, startPeer } from '../helpers/nodes.ts';

t.test('SB4: a TimeRange task is queued (3) before its window, runs inside it, and stops at its end; EM3: its ResourcesOccupied counts its frames', async (t) => {
  const dir = t.testdir({});
  // 10 s of clip served over 8 s: at 2 fps the whole source is 20 frames, far more than the window takes.
  const src = await slowSource(path.join(dir, 'slow.ts'), 8);
  const peer = await startPeer();
  const { ex, url, close } = await startExecutor(dir, 'edge-w');
  const client = new RetinaClient({ senderId: 'sched' });
  t.teardown(async () => { await close(); await client.close(); peer.close(); src.close(); });
  // Window edges on the hundredth, as the datetime format carries them.
  const start = Math.ceil((Date.now() + 1500) / 10) * 10;
  const end = start + 2500;
  const StartTime = formatRetinaDateTime(start);
  const EndTime = formatRetinaDateTime(end);
  const r = await client.command(url, { CommandType: 'task_dispatch', DeviceID: 'edge-w', MessageBody: { TaskDispatchList: [{
    TaskID: 'w-1', TaskAttr: 1, ExecutionCond: { TimeRange: [{ StartTime, EndTime }] },
    AlgModelInfo: { AlgID: 1001, AlgVersion: '1.0.0' }, InputInfo: { StreamURL: src.url, TaskFrameRate: 2 }, DstDeviceList: [{ DeviceID: 'peer', OutputURL: peer.url }] }] } });
  t.equal(r.StatusCode, '0', JSON.stringify(r));
  // Dispatched 1.5 s before the window: the executor holds it queued.
  t.equal(ex.taskStatus('w-1')?.ExecutionStatus, ExecutionStatus.Queued, 'queued (ExecutionStatus 3) before the window');
  t.equal(peer.received.length, 0, 'no result before the window');
  const seen = new Set<number>();
  await waitFor('task end', async () => {
    const st = ex.taskStatus('w-1')?.ExecutionStatus;
    if (st !== undefined) seen.add(st);
    return st === ExecutionStatus.Done || st === ExecutionStatus.Error ? st : undefined;
  }, 30_000, 20);
  t.equal(ex.taskStatus('w-1')?.ExecutionStatus, ExecutionStatus.Done, `ended done: ${JSON.stringify(ex.taskStatus('w-1'))}`);
  t.ok(seen.has(ExecutionStatus.Running), 'it ran');
  const framesOut = (ex.taskStatus('w-1')?.ResourcesOccupied as { FramesOut?: number } | undefined)?.FramesOut ?? -1;
  await waitFor('every result delivered', async () => (peer.received.filter((x) => x.TaskID === 'w-1').length >= framesOut ? true : undefined), 10_000, 20);
  const made = peer.received.filter((x) => x.TaskID === 'w-1').map((x) => parseRetinaDateTime(x.CreateTime as string));
  t.ok(made.length >= 1, `${made.length} results`);
  // EM3: what the executor says this task used (ResourcesOccupied) matches what it delivered.
  t.equal(made.length, framesOut, 'EM3: ResourcesOccupied.FramesOut is the number of results this task sent');
  t.ok(made.every((m) => m >= start), `every result made at or after StartTime ${StartTime}: ${made.map((m) => m - start).join(', ')} ms after it`);
  // The source had 20 frames; the window took some of them and the task stopped there (at most
  // one frame already being processed at EndTime is finished after it).
  t.ok(made.length < 20, `stopped before the source ran out (${made.length} of 20 frames)`);
  t.ok(made.filter((m) => m > end).length <= 1, `no frame read after EndTime ${EndTime} (${made.filter((m) => m > end).length} finished after it)`);
});
