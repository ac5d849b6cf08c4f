/**
 * SB5, SB3: a limit on the tasks the scheduler runs at once, changed at run time over HTTP
 * (`PUT /System/SchedulingPolicy`); tasks past it wait queued and start by the task order when a
 * slot frees. A scheduler in this process behind its real HTTP server, fake executors on real HTTP.
 */
import t from 'tap';
import http from 'node:http';
import { pino } from 'pino';
import { Scheduler } from '../../../src/scheduler/scheduler.ts';
import { createSchedulerServer } from '../../../src/api/scheduler-server.ts';
import { RetinaClient } from '../../../src/net/client.ts';
import { ExecutionStatus } from '../../../src/protocol/index.ts';
import { waitFor } from '../../helpers/cluster.ts';

async function fake(deviceId: string): Promise<{ url: string; close(): void }> {
  const srv = http.createServer((req, res) => {
    let s = '';
    req.on('data', (c) => (s += c));
    req.on('end', () => {
      const j = JSON.parse(s || '{}');
      const reply: Record<string, unknown> = { CommandType: j.CommandType, CommandIdx: j.CommandIdx, StatusCode: '0' };
      if (j.CommandType === 'algorithm_res_query') reply.AlgResourceList = [{ DeviceID: deviceId, AlgInfoList: [{ AlgID: 1001, AlgType: 'frame_extraction', AlgVersion: '1.0.0', AlgStatus: 1 }] }];
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(reply));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(srv.address() as { port: number }).port}/System/Command`, close: () => srv.close() };
}

t.test('SB5, SB3: one task at a time; the waiting ones start by Priority when a slot frees; the limit is raised at run time over HTTP', async (t) => {
  const ex = await fake('edge-a');
  const log = pino({ level: 'silent' });
  const s = new Scheduler({ deviceId: 'sched', dataDir: t.testdir({}), publicUrl: 'http://127.0.0.1:1', keepaliveSec: 60, maxConcurrentTasks: 1, token: 'tok', log });
  const app = createSchedulerServer(s, { token: 'tok', log });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const client = new RetinaClient({ token: 'tok', senderId: 'op' });
  t.teardown(async () => { await client.close(); await app.close(); await s.close(); ex.close(); });
  s.register({ DeviceID: 'edge-a', DeviceType: '1', ProductType: 'fake', CommandURL: ex.url });
  await s.refreshAlgorithms('edge-a');
  s.start();
  const submit = async (name: string, Priority: number) => {
    const r = await s.submit({ TaskName: name, TaskType: 1, Priority, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: `file:///${name}.mp4` }], AlgType: 'frame_extraction' } } });
    if (!r.ok) throw new Error(r.message);
    return r.taskId;
  };
  const placed = (id: string) => s.store.subtasks(id).length > 0;
  const a = await submit('a', 1);
  await waitFor('a placed', async () => (placed(a) ? true : undefined));
  const b = await submit('b', 1);
  const c = await submit('c', 9);
  const d = await submit('d', 5);
  t.notOk(placed(b) || placed(c) || placed(d), 'past the limit of 1, the others wait');
  t.equal(s.store.task(c)!.status, ExecutionStatus.Queued, 'queued (ExecutionStatus 3)');
  t.match(s.store.task(c)!.exception_desc, /waiting for a slot/);
  const policy = (await client.send('GET', `${url}/System/SchedulingPolicy`)).body as { SchedulingPolicy: { MaxConcurrentTasks: number; TaskOrder: string; RunningTasks: number; WaitingTasks: number } };
  t.strictSame(policy.SchedulingPolicy, { MaxConcurrentTasks: 1, TaskOrder: 'priority', RunningTasks: 1, WaitingTasks: 3 });

  s.onTaskStatus({ DeviceID: 'edge-a', TaskStatusList: [{ TaskID: `${a}.1`, ExecutionStatus: ExecutionStatus.Done }] });
  await waitFor('the next task placed', async () => ([b, c, d].some(placed) ? true : undefined));
  t.ok(placed(c) && !placed(b) && !placed(d), 'the highest Priority (9) went first');

  const bad = await client.send('PUT', `${url}/System/SchedulingPolicy`, { MaxConcurrentTasks: 0 });
  t.equal(bad.status, 400);
  t.match((bad.body as { Message: string }).Message, /MaxConcurrentTasks/, 'a bad limit is refused naming the field');
  const up = await client.send('PUT', `${url}/System/SchedulingPolicy`, { MaxConcurrentTasks: 3, TaskOrder: 'ageing' });
  t.equal((up.body as { SchedulingPolicy: { TaskOrder: string } }).SchedulingPolicy.TaskOrder, 'ageing');
  await waitFor('raised: the rest start at once', async () => (placed(b) && placed(d) ? true : undefined));
  const none = await client.send('PUT', `${url}/System/SchedulingPolicy`, { MaxConcurrentTasks: null });
  t.notOk('MaxConcurrentTasks' in (none.body as { SchedulingPolicy: object }).SchedulingPolicy, 'null removes the limit');
});

t.test('SB9, SB5: after a restart, running tasks hold their slots and a task that was waiting waits again, then starts', async (t) => {
  const ex = await fake('edge-a');
  const dataDir = t.testdir({});
  const log = pino({ level: 'silent' });
  const mk = () => new Scheduler({ deviceId: 'sched', dataDir, publicUrl: 'http://127.0.0.1:1', keepaliveSec: 60, maxConcurrentTasks: 1, log });
  t.teardown(() => ex.close());
  let s = mk();
  s.register({ DeviceID: 'edge-a', DeviceType: '1', ProductType: 'fake', CommandURL: ex.url });
  await s.refreshAlgorithms('edge-a');
  s.start();
  const submit = async (name: string) => {
    const r = await s.submit({ TaskName: name, TaskType: 1, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: `file:///${name}.mp4` }], AlgType: 'frame_extraction' } } });
    if (!r.ok) throw new Error(r.message);
    return r.taskId;
  };
  const a = await submit('a');
  await waitFor('a placed', async () => (s.store.subtasks(a).length ? true : undefined));
  const b = await submit('b');
  const c = await submit('c');
  t.equal(s.store.subtasks(b).length + s.store.subtasks(c).length, 0, 'b and c wait');
  t.strictSame(await s.control([{ TaskID: c, Control: 1 }]), [], 'c stopped while it waits');
  t.equal(s.store.task(c)!.exception_code, 90, 'a waiting task stopped ends stopped');
  await s.close();

  s = mk();
  t.teardown(() => s.close());
  s.start();
  await new Promise((r) => setTimeout(r, 300));
  t.equal(s.store.subtasks(b).length, 0, 'after the restart b still waits: a holds the only slot');
  t.equal((s.admission.slots.current).waiting, 1, 'one task waiting (the stopped one is not resumed)');
  s.onTaskStatus({ DeviceID: 'edge-a', TaskStatusList: [{ TaskID: `${a}.1`, ExecutionStatus: ExecutionStatus.Done }] });
  await waitFor('b placed once a ended', async () => (s.store.subtasks(b).length ? true : undefined));
  t.equal(s.store.subtasks(c).length, 0, 'c never starts');
});
