/**
 * S7: an executor that still runs a copy of a subtask that now runs elsewhere is told to stop it
 * (task_ops_control, Control 1). One stop is in flight per (executor, subtask) at a time; once it
 * is answered nothing is kept for the pair, so a copy that reports itself active again is
 * stopped again (it was once stopped only, for good: a pair remembered forever, and a later
 * stale copy of the same pair never stopped).
 */
import t from 'tap';
import path from 'node:path';
import { pino } from 'pino';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { ExecutionStatus } from '../../src/protocol/index.ts';
import { waitFor } from '../helpers/cluster.ts';
import { fakeExecutor, type SeenCommand } from '../helpers/fake-executor.ts';

const log = pino({ level: 'silent' });

t.test('S7: a stale copy is stopped on each report that shows it active, one stop in flight at a time', async (t) => {
  const dir = t.testdir({});
  const seen: SeenCommand[] = [];
  const a = await fakeExecutor('edge-a', { seen });
  const b = await fakeExecutor('edge-b', { seen });
  const s = new Scheduler({ deviceId: 'sched', dataDir: path.join(dir, 'sched'), publicUrl: 'http://127.0.0.1:1', keepaliveSec: 60, log });
  t.teardown(async () => { await s.close(); a.close(); b.close(); });
  s.register({ DeviceID: 'edge-a', DeviceType: '1', ProductType: 'fake', CommandURL: a.url });
  s.register({ DeviceID: 'edge-b', DeviceType: '1', ProductType: 'fake', CommandURL: b.url });
  await s.refreshAlgorithms('edge-a');
  await s.refreshAlgorithms('edge-b');
  s.start();
  const r = await s.submit({ TaskName: 'stale', TaskType: 1, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: 'rtsp://cam/1' }], AlgType: 'frame_extraction' } } });
  if (!r.ok) throw new Error(r.message);
  const sub = await waitFor('placed', async () => s.store.subtasks(r.taskId)[0]);
  const other = sub.device_id === 'edge-a' ? 'edge-b' : 'edge-a';
  const stops = () => seen.filter((c) => c.deviceId === other && c.type === 'task_ops_control'
    && JSON.stringify(c.body).includes(`"TaskID":"${sub.subtask_id}"`) && JSON.stringify(c.body).includes('"Control":1')).length;
  const reportActive = () => s.onTaskStatus({ DeviceID: other, TaskStatusList: [{ TaskID: sub.subtask_id, ExecutionStatus: ExecutionStatus.Running, Progress: 10 }] });

  // Two reports in the same tick: one stop goes out.
  reportActive();
  reportActive();
  await waitFor('the stop', async () => (stops() >= 1 ? true : undefined), 10_000);
  await new Promise((res) => setTimeout(res, 300));
  t.equal(stops(), 1, 'one stop while one is in flight');

  // The copy reports itself active again after that stop was answered: stopped again.
  reportActive();
  await waitFor('a second stop', async () => (stops() >= 2 ? true : undefined), 10_000);
  t.equal(stops(), 2, 'stopped again: nothing kept for the pair after the first stop');
  t.equal(s.store.subtask(sub.subtask_id)?.device_id, sub.device_id, 'the subtask stays where it was placed');
});
