/** SB5: an executor's limit on tasks running at once, read and raised at run time over HTTP (`PUT /System/ExecutorPolicy`). */
import t from 'tap';
import path from 'node:path';
import { ExecutionStatus } from '../../src/protocol/index.ts';
import { RetinaClient } from '../../src/net/client.ts';
import { startExecutor, startPeer } from '../helpers/nodes.ts';
import { slowSource } from '../helpers/slow-source.ts';
import { waitFor } from '../helpers/cluster.ts';

t.test('SB5: one task runs at a time, the rest queued; raising the limit over HTTP starts them at once', async (t) => {
  const dir = t.testdir({});
  const src = await slowSource(path.join(dir, 'slow.ts'), 8);
  const peer = await startPeer();
  const { ex, url, close } = await startExecutor(dir, 'edge-p', { maxRunningTasks: 1 });
  const client = new RetinaClient({ senderId: 'sched' });
  t.teardown(async () => { await close(); await client.close(); peer.close(); src.close(); });
  const ids = ['p-1', 'p-2', 'p-3'];
  const r = await client.command(url, { CommandType: 'task_dispatch', DeviceID: 'edge-p', MessageBody: { TaskDispatchList: ids.map((TaskID) => ({
    TaskID, TaskAttr: 0, AlgModelInfo: { AlgID: 1001, AlgVersion: '1.0.0' }, InputInfo: { StreamURL: src.url, TaskFrameRate: 1 }, DstDeviceList: [{ DeviceID: 'peer', OutputURL: peer.url }] })) } });
  t.equal(r.StatusCode, '0', JSON.stringify(r));
  const statuses = () => ids.map((id) => ex.taskStatus(id)?.ExecutionStatus);
  await waitFor('one running', async () => (statuses().filter((s) => s === ExecutionStatus.Running).length === 1 ? true : undefined), 10_000, 20);
  t.equal(statuses().filter((s) => s === ExecutionStatus.Queued).length, 2, 'two queued behind the limit of 1');
  const got = (await client.send('GET', `${url}/System/ExecutorPolicy`)).body as { ExecutorPolicy: { MaxRunningTasks: number; RunningTasks: number } };
  t.strictSame(got.ExecutorPolicy, { MaxRunningTasks: 1, RunningTasks: 1 });
  const bad = await client.send('PUT', `${url}/System/ExecutorPolicy`, { MaxRunningTasks: 0 });
  t.equal(bad.status, 400);
  t.match((bad.body as { Message: string }).Message, /MaxRunningTasks/, 'a bad limit is refused naming the field');
  const up = await client.send('PUT', `${url}/System/ExecutorPolicy`, { MaxRunningTasks: 3 });
  t.equal((up.body as { ExecutorPolicy: { MaxRunningTasks: number } }).ExecutorPolicy.MaxRunningTasks, 3);
  await waitFor('all three running', async () => (statuses().every((s) => s === ExecutionStatus.Running) ? true : undefined), 10_000, 20);
  t.pass('raised at run time: the queued tasks started without a restart');
  await client.command(url, { CommandType: 'task_ops_control', DeviceID: 'edge-p', MessageBody: { OpsControlList: ids.map((TaskID) => ({ TaskID, Control: 1 })) } });
});
