/**
 * B2 / SB8 / SB3 on one executor: several subtasks run on it at once, up to maxRunningTasks; the
 * rest wait queued (ExecutionStatus 3) and start as room frees, higher Priority first.
 */
import t from 'tap';
import path from 'node:path';
import { RetinaClient } from '../../src/net/client.ts';
import { ExecutionStatus } from '../../src/protocol/index.ts';
import { slowSource } from '../helpers/slow-source.ts';
import { waitFor } from '../helpers/cluster.ts';
import { startExecutor, startPeer } from '../helpers/nodes.ts';

t.test('B2/SB8/SB3: two subtasks run at once on one executor (maxRunningTasks 2); the others queue and start by Priority', async (t) => {
  const dir = t.testdir({});
  const src = await slowSource(path.join(dir, 'slow.ts'), 8);
  const peer = await startPeer();
  const { ex, url, close } = await startExecutor(dir, 'edge-q', { maxRunningTasks: 2 });
  const client = new RetinaClient({ senderId: 'sched' });
  t.teardown(async () => { await close(); await client.close(); peer.close(); src.close(); });
  const dispatch = (TaskID: string, Priority: number) => client.command(url, { CommandType: 'task_dispatch', DeviceID: 'edge-q', MessageBody: { TaskDispatchList: [{
    TaskID, TaskAttr: 0, Priority, AlgModelInfo: { AlgID: 1001, AlgVersion: '1.0.0' }, InputInfo: { StreamURL: src.url, TaskFrameRate: 2 }, DstDeviceList: [{ DeviceID: 'peer', OutputURL: peer.url }] }] } });
  const stop = (TaskID: string) => client.command(url, { CommandType: 'task_ops_control', DeviceID: 'edge-q', MessageBody: { OpsControlList: [{ DeviceID: 'edge-q', TaskID, Control: 1 }] } });
  const status = (id: string) => ex.taskStatus(id)?.ExecutionStatus;
  const statuses = () => Object.fromEntries(['a', 'b', 'c', 'd'].map((id) => [id, status(id)]));

  for (const [id, prio] of [['a', 1], ['b', 1]] as const) t.equal((await dispatch(id, prio)).StatusCode, '0');
  await waitFor('a and b running', async () => (status('a') === ExecutionStatus.Running && status('b') === ExecutionStatus.Running ? true : undefined), 10_000, 20);
  t.pass('two subtasks run at once on one executor (SB8, B2)');
  // Dispatched low Priority first: arrival order would start c before d.
  for (const [id, prio] of [['c', 2], ['d', 9]] as const) t.equal((await dispatch(id, prio)).StatusCode, '0');
  t.strictSame(statuses(), { a: 1, b: 1, c: 3, d: 3 }, 'no room: c and d wait queued (ExecutionStatus 3)');

  t.equal((await stop('a')).StatusCode, '0');
  await waitFor('a slot taken', async () => (status('c') === ExecutionStatus.Running || status('d') === ExecutionStatus.Running ? true : undefined), 10_000, 20);
  t.strictSame(statuses(), { a: 0, b: 1, c: 3, d: 1 }, 'the freed slot goes to d (Priority 9), not to c that came first (SB3)');
  t.equal((await stop('b')).StatusCode, '0');
  await waitFor('c running', async () => (status('c') === ExecutionStatus.Running ? true : undefined), 10_000, 20);
  t.strictSame(statuses(), { a: 0, b: 0, c: 1, d: 1 }, 'then c');
});
