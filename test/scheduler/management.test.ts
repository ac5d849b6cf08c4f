/**
 * Managing executors and tasks through the interface: SM1 (batch add, remove, enable, disable
 * executors), S7 (a disabled executor's subtask moves elsewhere and its copy is stopped), S4
 * (delete a task with its results), SM2 at fleet scale (DeviceList paged and filtered).
 */
import t, { type Test } from 'tap';
import { pino } from 'pino';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { createSchedulerServer } from '../../src/api/scheduler-server.ts';
import type { DeviceListReply, DeviceManageReply } from '../../src/protocol/index.ts';
import { waitFor } from '../helpers/cluster.ts';
import { fakeExecutor, type SeenCommand } from '../helpers/fake-executor.ts';

const log = pino({ level: 'silent' });

async function setup(t: Test) {
  const seen: SeenCommand[] = [];
  const a = await fakeExecutor('edge-a', { seen });
  const b = await fakeExecutor('edge-b', { seen });
  const s = new Scheduler({ deviceId: 'sched', dataDir: t.testdir({}), publicUrl: 'http://127.0.0.1:1', keepaliveSec: 60, log });
  const app = createSchedulerServer(s, { log, token: 'node-token-0123456789' });
  t.teardown(async () => { await app.close(); await s.close(); a.close(); b.close(); });
  for (const [id, url] of [['edge-a', a.url], ['edge-b', b.url]] as const) {
    s.register({ DeviceID: id, DeviceType: '1', ProductType: 'fake', CommandURL: url });
    await s.refreshAlgorithms(id);
  }
  s.start();
  const call = async <T>(method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown, token = 'node-token-0123456789') => {
    const r = await app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload !== undefined ? { payload: payload as object } : {}) });
    return { status: r.statusCode, body: r.json() as T };
  };
  return { s, seen, call };
}

t.test('SM1: executors added, enabled, disabled and removed in batches; DeviceList paged and filtered (SM2)', async (t) => {
  const { call } = await setup(t);
  const many = Array.from({ length: 25 }, (_, i) => ({ DeviceID: `cam-${String(i).padStart(2, '0')}`, DeviceType: '0', ProductType: 'ipc' }));
  const added = await call<DeviceManageReply>('POST', '/System/DeviceManage', { Action: 'add', DeviceList: many });
  t.equal(added.body.StatusCode, '0', '25 added in one request');
  t.equal(added.body.Results.length, 25);
  const again = await call<DeviceManageReply>('POST', '/System/DeviceManage', { Action: 'add', DeviceList: [{ DeviceID: 'cam-00', DeviceType: '0', ProductType: 'ipc' }, { DeviceID: 'cam-99', DeviceType: '0', ProductType: 'ipc' }] });
  t.equal(again.body.StatusCode, '1', 'a batch with one failure says so');
  t.match(again.body.Results, [{ DeviceID: 'cam-00', StatusCode: '1', Message: 'already known' }, { DeviceID: 'cam-99', StatusCode: '0' }]);
  const bad = await call<{ Message: string }>('POST', '/System/DeviceManage', { Action: 'explode', DeviceList: [{ DeviceID: 'x' }] });
  t.equal(bad.status, 400);
  t.match(bad.body.Message, /^Action: must be one of "add", "remove", "enable", "disable"/);

  // Pages of 10 over the 26 cameras (device type 0), in DeviceID order.
  const ids: string[] = [];
  let after = '';
  for (let i = 0; i < 5; i++) {
    const p = await call<DeviceListReply>('GET', `/System/DeviceList?deviceType=0&limit=10${after ? `&after=${after}` : ''}`);
    ids.push(...p.body.DeviceList.map((d) => d.DeviceID));
    t.ok(p.body.DeviceList.every((d) => d.DeviceType === '0' && !d.Online && d.Enabled), 'only cameras: added, offline until they register, enabled');
    if (!p.body.Next) break;
    after = p.body.Next;
  }
  t.equal(ids.length, 26, 'three pages: 10, 10, 6');
  t.strictSame(ids, [...ids].sort(), 'in DeviceID order');
  t.strictSame((await call<DeviceListReply>('GET', '/System/DeviceList?online=1')).body.DeviceList.map((d) => d.DeviceID), ['edge-a', 'edge-b'], 'filtered by online state');
  t.strictSame((await call<DeviceListReply>('GET', '/System/DeviceList?algId=1001')).body.DeviceList.map((d) => d.DeviceID), ['edge-a', 'edge-b'], 'and by algorithm');

  t.equal((await call<DeviceManageReply>('POST', '/System/DeviceManage', { Action: 'disable', DeviceList: [{ DeviceID: 'cam-01' }, { DeviceID: 'cam-02' }] })).body.StatusCode, '0');
  t.strictSame((await call<DeviceListReply>('GET', '/System/DeviceList?enabled=0')).body.DeviceList.map((d) => d.DeviceID), ['cam-01', 'cam-02'], 'disabled are listed as such');
  await call('POST', '/System/DeviceManage', { Action: 'enable', DeviceList: [{ DeviceID: 'cam-01' }] });
  t.strictSame((await call<DeviceListReply>('GET', '/System/DeviceList?enabled=0')).body.DeviceList.map((d) => d.DeviceID), ['cam-02'], 'enabled again');
  const removed = await call<DeviceManageReply>('POST', '/System/DeviceManage', { Action: 'remove', DeviceList: many.slice(0, 20).map((d) => ({ DeviceID: d.DeviceID })) });
  t.equal(removed.body.StatusCode, '0', '20 removed at once');
  t.equal((await call<DeviceListReply>('GET', '/System/DeviceList?deviceType=0')).body.DeviceList.length, 6);
});

t.test('S7/SM1: disabling an executor moves its subtask elsewhere and stops its copy; S4: a task is deleted with its results', async (t) => {
  const { s, seen, call } = await setup(t);
  const r = await s.submit({ TaskName: 'cam', TaskType: 1, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: 'rtsp://cam/1' }], AlgType: 'frame_extraction' } } });
  if (!r.ok) throw new Error(r.message);
  const first = await waitFor('dispatched', async () => seen.find((x) => x.type === 'task_dispatch')?.deviceId);
  const other = first === 'edge-a' ? 'edge-b' : 'edge-a';
  const sub = s.store.subtasks(r.taskId)[0]!;
  s.onTaskStatus({ DeviceID: first, TaskStatusList: [{ TaskID: sub.subtask_id, ExecutionStatus: 1, Progress: 10 }] });
  t.equal((await call<DeviceManageReply>('POST', '/System/DeviceManage', { Action: 'disable', DeviceList: [{ DeviceID: first }] })).body.StatusCode, '0');
  await waitFor('moved to the other executor', async () => (s.store.subtask(sub.subtask_id)?.device_id === other ? true : undefined), 10_000);
  t.pass(`the subtask moved from ${first} (disabled) to ${other}`);
  await waitFor('the disabled one told to stop its copy', async () => (seen.some((x) => x.deviceId === first && x.type === 'task_ops_control') ? true : undefined), 10_000);
  t.pass('and the disabled executor was told to stop its copy');

  s.onTaskResult({ CommandType: 'task_result', CommandIdx: 1, DeviceID: other, MessageBody: { TaskID: sub.subtask_id, DeviceID: other, DstDeviceList: [], AlgID: 1001, AlgVersion: '1.0.0', Ts: 1, CreateTime: '2026-11-29 12:00:00.00', TaskResultData: {} } }, `node|${other}`);
  t.equal(s.store.resultCount(r.taskId), 1);
  const del = await call<{ StatusCode: string }>('DELETE', `/System/TaskInfo/${r.taskId}`);
  t.equal(del.status, 200, 'deleted');
  await waitFor('the running copy stopped first', async () => (seen.some((x) => x.deviceId === other && x.type === 'task_ops_control') ? true : undefined), 10_000);
  t.equal((await call('GET', `/System/TaskInfo/${r.taskId}`)).status, 404, 'the task is gone');
  t.equal(s.store.resultCount(r.taskId), 0, 'with its results');
  t.equal(s.store.subtasks(r.taskId).length, 0, 'and its subtasks');
  t.equal((await call('DELETE', `/System/TaskInfo/${r.taskId}`)).status, 404, 'a second delete finds nothing');

  // The stop that came with the delete goes with the task: one given the same TaskID later (as a
  // cascade's upper scheduler does) is placed and dispatched like any other.
  const dispatches = () => seen.filter((x) => x.type === 'task_dispatch').length;
  const before = dispatches();
  const again = await s.submit({ TaskName: 'cam again', TaskType: 1, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: 'rtsp://cam/1' }], AlgType: 'frame_extraction' } } }, undefined, r.taskId);
  t.ok(again.ok && again.taskId === r.taskId, 'the same TaskID is taken again');
  await waitFor('the new task dispatched', async () => (dispatches() > before ? true : undefined), 10_000);
  t.pass('and dispatched, not held back by the deleted task\'s stop');
});

t.test('9.7: OpsControl.DeviceID narrows a task to the subtasks on that executor', async (t) => {
  const { s, seen } = await setup(t);
  const r = await s.submit({ TaskName: 'two cams', TaskType: 1, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: 'rtsp://cam/1' }, { StreamURL: 'rtsp://cam/2' }], AlgType: 'frame_extraction' } } });
  if (!r.ok) throw new Error(r.message);
  await waitFor('both placed', async () => (seen.filter((x) => x.type === 'task_dispatch').length >= 2 ? true : undefined));
  const subs = s.store.subtasks(r.taskId);
  t.strictSame(new Set(subs.map((x) => x.device_id)).size, 2, 'one subtask on each executor (load balancing)');
  for (const sub of subs) s.onTaskStatus({ DeviceID: sub.device_id, TaskStatusList: [{ TaskID: sub.subtask_id, ExecutionStatus: 1, Progress: 5 }] });
  const onA = subs.find((x) => x.device_id === 'edge-a')!;
  t.strictSame(await s.control([{ DeviceID: 'edge-a', TaskID: r.taskId, Control: 2 }]), [], 'pause the task on edge-a');
  const controls = seen.filter((x) => x.type === 'task_ops_control');
  t.strictSame(controls.map((x) => x.deviceId), ['edge-a'], 'only edge-a was told');
  t.match(controls[0]?.body, { OpsControlList: [{ TaskID: onA.subtask_id, Control: 2 }] }, 'about its own subtask');
  t.strictSame(await s.control([{ DeviceID: 'sched', TaskID: r.taskId, Control: 3 }]), [], 'resume, naming the scheduler: the whole task');
  t.strictSame(seen.filter((x) => x.type === 'task_ops_control').slice(1).map((x) => x.deviceId).sort(), ['edge-a', 'edge-b']);
});
