/** The device registry (SR1, SR3, SM2): in memory and indexed, written through to the store, rebuilt from it; active counts kept as subtasks are written. */
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SchedulerStore } from '../../src/scheduler/store.ts';
import { DeviceRegistry } from '../../src/scheduler/devices.ts';
import { ExecutionStatus } from '../../src/protocol/index.ts';

const alg = (AlgID: number, AlgType: string) => ({ AlgID, AlgType, AlgVersion: '1.0.0', AlgStatus: 1 });

t.test('SR3/SM2: indexes by AlgID, AlgType (any case) and DeviceType follow registrations and algorithm lists; the store gets every write', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'retinad-devreg-'));
  const store = new SchedulerStore(dir);
  const reg = new DeviceRegistry(store);
  reg.register({ deviceId: 'a', deviceType: '1', productType: 'p', commandUrl: 'http://a', longitude: '116.4', latitude: '39.9' }, 1000);
  reg.register({ deviceId: 'b', deviceType: '2', productType: 'p', commandUrl: 'http://b' }, 1000);
  t.strictSame([...reg.offering({ algType: 'ocr' })], [], 'no lists yet');
  t.strictSame(reg.unlisted().sort(), ['a', 'b']);
  reg.setAlgs('a', { DeviceID: 'a', AlgInfoList: [alg(7, 'OCR')] }, 2000);
  reg.setAlgs('b', { DeviceID: 'b', AlgInfoList: [alg(7, 'ocr'), alg(8, 'plate')] }, 2000);
  t.strictSame([...reg.offering({ algType: 'ocr' })].map((d) => d.row.device_id).sort(), ['a', 'b']);
  t.strictSame([...reg.offering({ algId: 8 })].map((d) => d.row.device_id), ['b']);
  t.strictSame([...reg.offering({ deviceType: '2' })].map((d) => d.row.device_id), ['b']);
  reg.setAlgs('b', { DeviceID: 'b', AlgInfoList: [alg(8, 'plate')] }, 3000);
  t.strictSame([...reg.offering({ algType: 'OCR' })].map((d) => d.row.device_id), ['a'], 'a new list replaces the old in the indexes');
  t.equal(reg.unlisted().length, 0);
  t.strictSame(reg.stale(3500, 1000), ['a'], 'a list older than the limit is stale');
  t.ok(reg.setAvailable({ DeviceID: 'a', ResourceInfo: { IsValid: 'Y', CommonResource: { AvailableCPU: 30 } } }));
  t.notOk(reg.setAvailable({ DeviceID: 'zz', ResourceInfo: { IsValid: 'Y' } }), 'unknown device');
  t.ok(reg.touch('a', 5000));
  t.notOk(reg.touch('zz', 5000));
  t.equal(store.device('a')?.last_seen, 1000, 'an online device\'s stamp waits for the flush');
  reg.flush();
  reg.touch('b', 5500);
  reg.setOnline('b', false);
  t.equal(store.device('b')?.last_seen, 5500, 'going offline writes the stamp kept in memory first');
  t.strictSame([...reg.onlineSet()], ['a']);
  t.equal(store.device('b')?.online, 0, 'written through');
  t.equal(store.device('a')?.last_seen, 5000);
  t.strictSame(JSON.parse(store.device('a')!.alg_resource!), { DeviceID: 'a', AlgInfoList: [alg(7, 'OCR')] });

  // Re-registering keeps the reports and asks for the algorithm list again.
  reg.register({ deviceId: 'a', deviceType: '1', productType: 'p', commandUrl: 'http://a2' }, 6000);
  t.equal(reg.get('a')?.row.command_url, 'http://a2');
  t.equal(reg.get('a')?.row.alg_checked_at, 0);
  t.equal(reg.get('a')?.available?.ResourceInfo.CommonResource?.AvailableCPU, 30);
  store.close();

  // Rebuilt from the store: the same state.
  const store2 = new SchedulerStore(dir);
  const again = new DeviceRegistry(store2);
  t.strictSame(again.all().map((d) => d.row), reg.all().map((d) => d.row));
  t.strictSame([...again.offering({ algType: 'ocr' })].map((d) => d.row.device_id), ['a']);
  t.equal(again.get('a')?.available?.ResourceInfo.CommonResource?.AvailableCPU, 30);
  store2.close();
});

t.test('SR2: active subtasks per device are counted as subtasks are written, and survive a restart', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'retinad-active-'));
  let store = new SchedulerStore(dir);
  store.insertTask('t', { TaskName: 't', InitiationInfo: { DeviceID: 'i' } }, { Inputs: [{ StreamURL: 'rtsp://x' }] }, ExecutionStatus.Queued);
  const dispatch = { TaskID: 't.1', TaskAttr: 0, AlgModelInfo: { AlgID: 1, AlgVersion: '1' }, InputInfo: {}, DstDeviceList: [] };
  store.insertSubtask({ subtaskId: 't.1', taskId: 't', deviceId: 'a', dispatch, status: ExecutionStatus.Queued });
  store.insertSubtask({ subtaskId: 't.2', taskId: 't', deviceId: 'a', dispatch, status: ExecutionStatus.Queued });
  t.equal(store.activeCount('a'), 2);
  store.setSubtaskStatus('t.1', { status: ExecutionStatus.Running });
  t.equal(store.activeCount('a'), 2, 'running is still active');
  store.insertSubtask({ subtaskId: 't.2', taskId: 't', deviceId: 'b', dispatch, status: ExecutionStatus.Queued, attempts: 2 });
  t.equal(store.activeCount('a'), 1, 'moved away');
  t.equal(store.activeCount('b'), 1, 'moved here');
  store.setSubtaskStatus('t.1', { status: ExecutionStatus.Done });
  t.equal(store.activeCount('a'), 0);
  store.setSubtaskStatus('t.1', { status: ExecutionStatus.Queued });
  t.equal(store.activeCount('a'), 1, 'active again');
  store.close();
  store = new SchedulerStore(dir);
  t.strictSame([...store.activeCountByDevice()].sort(), [['a', 1], ['b', 1]]);
  store.close();
});

t.test('SM2: a device that registers again is seen as it is now by every reader of the registry (all(), rows())', async (t) => {
  const reg = new DeviceRegistry(new SchedulerStore(mkdtempSync(path.join(os.tmpdir(), 'retinad-devreg-'))));
  reg.register({ deviceId: 'a', deviceType: '1', productType: 'p', commandUrl: 'http://a' }, 1000);
  t.equal(reg.all()[0]?.row.online, 1);
  reg.setOnline('a', false);
  t.equal(reg.rows()[0]?.online, 0, 'offline');
  reg.register({ deviceId: 'a', deviceType: '1', productType: 'p', commandUrl: 'http://a2' }, 2000);
  t.equal(reg.all()[0]?.row.online, 1, 'online again after re-registering (was a stale cached object)');
  t.equal(reg.rows()[0]?.command_url, 'http://a2', 'with its new CommandURL');
});
