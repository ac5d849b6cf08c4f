/**
 * Event-triggered tasks across real processes (M3, SB4): a task held by `CustomInfo.StartOn`
 * stays queued (ExecutionStatus 3, nothing placed) until its event — a named event pushed to
 * `POST /System/TaskEvent`, or a result or status of another task on the scheduler — then runs
 * and produces results; events that do not match start nothing.
 */
import t, { type Test } from 'tap';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startCluster, waitFor, waitTaskEnd, type Cluster } from '../helpers/cluster.ts';
import { startRole } from '../../src/child-role.ts';
import { clip } from '../helpers/media.ts';
import { slowSource } from '../helpers/slow-source.ts';
import type { TaskInfo, TaskResultBody } from '../../src/protocol/index.ts';

let cluster: Cluster;
t.before(async () => {
  cluster = await startCluster(t.testdir({}), 1);
});
t.teardown(() => cluster?.stop());

const info = async (id: string): Promise<TaskInfo> => ((await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskInfo/${id}`)).body as { TaskInfo: TaskInfo }).TaskInfo;
const results = async (id: string): Promise<TaskResultBody[]> => ((await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskResult/${id}?limit=500`)).body as { TaskResultList: TaskResultBody[] }).TaskResultList;
const submit = async (StreamURL: string, extra: Record<string, unknown>): Promise<string> => {
  const r = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, { TaskName: 'held', TaskType: 1,
    InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL }], AlgType: 'frame_extraction', TaskFrameRate: 2, ...extra } } });
  const id = (r.body as { TaskID?: string }).TaskID;
  if (!id) throw new Error(`not accepted: ${r.status} ${JSON.stringify(r.body)}`);
  return id;
};
const push = async (body: unknown): Promise<{ status: number; body: { StatusCode: string; Started?: string[]; Message?: string } }> =>
  cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskEvent`, body) as Promise<{ status: number; body: { StatusCode: string; Started?: string[]; Message?: string } }>;
/** Held: queued, nothing placed, no results. */
const held = async (t: Test, id: string, when: string): Promise<void> => {
  const ti = await info(id);
  t.equal(ti.ExecutionStatus, 3, `${when}: still queued (ExecutionStatus 3)`);
  t.equal(ti.SubtaskInfoList?.length ?? 0, 0, `${when}: nothing placed`);
  t.equal((await results(id)).length, 0, `${when}: no results`);
};

t.test('M3, SB4: a task held for a pushed event stays queued until a matching TaskEvent, then runs and produces results; non-matching events start nothing', async (t) => {
  const file = clip(path.join(cluster.dir, 'door.mp4'), { seconds: 2 });
  const id = await submit(pathToFileURL(file).href, { StartOn: { Event: 'door', When: { Field: 'Door', Op: 'eq', Value: 2 } } });
  await held(t, id, 'accepted');

  const wrongData = await push({ Event: 'door', Data: { Door: 1 } });
  t.equal(wrongData.status, 200, JSON.stringify(wrongData.body));
  t.strictSame(wrongData.body.Started, [], 'Door 1 does not meet When (Door eq 2)');
  const wrongName = await push({ Event: 'window', Data: { Door: 2 } });
  t.strictSame(wrongName.body.Started, [], 'another event name starts nothing');
  const noData = await push({ Event: 'door' });
  t.strictSame(noData.body.Started, [], 'no Data meets no condition');
  await new Promise((r) => setTimeout(r, 1500));
  await held(t, id, 'after three non-matching events');

  const go = await push({ Event: 'door', Data: { Door: 2, Where: 'gate 3' } });
  t.strictSame(go.body.Started, [id], 'the matching event names the task it started');
  const again = await push({ Event: 'door', Data: { Door: 2 } });
  t.strictSame(again.body.Started, [], 'a second event does not start it twice');
  const done = await waitTaskEnd(cluster, id, 90_000);
  t.equal(done.ExecutionStatus, 0, JSON.stringify(done.SubtaskInfoList?.map((s) => s.TaskStatusInfo)));
  t.equal(done.SubtaskInfoList?.length, 1, 'placed once it started');
  t.ok((await results(id)).length >= 2, 'it produced results');
});

t.test('M3, SB4: tasks held for another task start on its result (StartOn.TaskID) or its status (Status); one waiting for a result that never comes is not run', async (t) => {
  const src = await slowSource(path.join(cluster.dir, 'slow.ts'), 10);
  t.teardown(() => src.close());
  const watched = await submit(src.url, {});
  const file = pathToFileURL(clip(path.join(cluster.dir, 'after.mp4'), { seconds: 2 })).href;
  const onResult = await submit(file, { StartOn: { TaskID: watched } });
  const onDone = await submit(file, { StartOn: { TaskID: watched, Status: 0 } });
  const onMotion = await submit(file, { StartOn: { TaskID: watched, When: { Field: 'Motion', Op: 'eq', Value: true } } });
  const bad = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, { TaskName: 'x', TaskType: 1,
    InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: file }], AlgType: 'frame_extraction', StartOn: { TaskID: 'no-such-task' } } } });
  t.match(bad.body, { StatusCode: '1', Message: /^InitiationInfo\.CustomInfo\.StartOn\.TaskID: no task "no-such-task"/ }, 'an unknown task to wait for is refused, naming the field');

  // The first result of the watched task starts the task waiting for "a result"; the others wait on.
  await waitFor('the task waiting for a result to start', async () => ((await info(onResult)).SubtaskInfoList?.length ? true : undefined), 60_000, 250);
  t.equal((await info(watched)).ExecutionStatus, 1, 'the watched task is still running');
  await held(t, onDone, 'watched task running');
  await held(t, onMotion, 'watched task running, no result with Motion');

  t.equal((await waitTaskEnd(cluster, watched, 120_000)).ExecutionStatus, 0);
  const a = await waitTaskEnd(cluster, onResult, 90_000);
  const b = await waitTaskEnd(cluster, onDone, 90_000);
  t.equal(a.ExecutionStatus, 0);
  t.equal(b.ExecutionStatus, 0);
  t.ok((await results(onResult)).length >= 2, 'started on a result, it produced results');
  t.ok((await results(onDone)).length >= 2, 'started on the watched task\'s ExecutionStatus 0, it produced results');
  const c = await waitTaskEnd(cluster, onMotion, 30_000);
  t.equal(c.SubtaskInfoList?.length ?? 0, 0, 'the task whose condition no result met was never placed');
  t.equal((await results(onMotion)).length, 0);
  const st = await cluster.client.command(cluster.scheduler.url, { CommandType: 'task_status_query', CommandIdx: cluster.client.commandIdx(),
    MessageBody: { DeviceList: [{ DeviceID: a.SubtaskInfoList![0]!.TaskDispatchInfo.DstDeviceList[0]!.DeviceID, HierarchicalQuery: '0', TaskIDList: [onMotion] }] } });
  t.match(JSON.stringify(st), /not run: the task it waited for/, 'its status says why it never ran');
});

t.test('M3, SB4, SB9: a held task is held again after the scheduler restarts, and its event still starts it; a stopped held task never starts', async (t) => {
  const dir = t.testdir({});
  const own = await startCluster(path.join(dir, 'c'), 1);
  let restarted = false;
  t.teardown(async () => { if (!restarted) await own.stop(); });
  const file = pathToFileURL(clip(path.join(dir, 'go.mp4'), { seconds: 2 })).href;
  const send = (url: string, body: unknown) => own.client.send('POST', url, body);
  const task = { TaskName: 'held', TaskType: 1, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: file }], AlgType: 'frame_extraction', TaskFrameRate: 2, StartOn: { Event: 'go' } } } };
  const kept = ((await send(`${own.scheduler.url}/System/TaskRequest/`, task)).body as { TaskID: string }).TaskID;
  const stopped = ((await send(`${own.scheduler.url}/System/TaskRequest/`, task)).body as { TaskID: string }).TaskID;
  const stop = await own.client.command(own.scheduler.url, { CommandType: 'task_ops_control', CommandIdx: own.client.commandIdx(), MessageBody: { OpsControlList: [{ TaskID: stopped, Control: 1 }] } });
  t.equal(stop.StatusCode, '0', JSON.stringify(stop));

  const port = new URL(own.scheduler.url).port;
  const gone = new Promise((r) => own.scheduler.child.once('exit', r));
  own.scheduler.child.kill('SIGKILL');
  await gone;
  const again = await startRole(['scheduler', '--listen', `127.0.0.1:${port}`, '--data-dir', path.join(dir, 'c', 'scheduler'), '--keepalive', '1', '--allow-private-urls'],
    { env: { RETINAD_TOKEN: own.token, RETINAD_LOG_LEVEL: 'debug' }, logFile: path.join(dir, 'scheduler-2.log') });
  restarted = true;
  t.teardown(async () => { await Promise.all(own.executors.map((e) => e.stop(3000))); await again.stop(3000); await own.client.close(); });
  const S = again.url;
  await waitFor('the executor to register again', async () => {
    const list = ((await own.client.send('GET', `${S}/System/DeviceList`)).body as { DeviceList: Array<{ Online: boolean; AlgInfoList: unknown[] }> }).DeviceList;
    return list.some((d) => d.Online && d.AlgInfoList.length) ? true : undefined;
  }, 30_000);
  const infoOf = async (id: string) => ((await own.client.send('GET', `${S}/System/TaskInfo/${id}`)).body as { TaskInfo: TaskInfo }).TaskInfo;
  t.equal((await infoOf(kept)).ExecutionStatus, 3, 'still held after the restart');
  t.equal((await infoOf(kept)).SubtaskInfoList?.length ?? 0, 0, 'nothing placed by the restart');

  const go = await send(`${S}/System/TaskEvent`, { Event: 'go' });
  t.strictSame((go.body as { Started: string[] }).Started, [kept], 'the event starts the held task, not the stopped one');
  const done = await waitTaskEnd({ ...own, scheduler: again }, kept, 90_000);
  t.equal(done.ExecutionStatus, 0);
  t.ok(((await own.client.send('GET', `${S}/System/TaskResult/${kept}?limit=500`)).body as { TaskResultList: TaskResultBody[] }).TaskResultList.length >= 2, 'it produced results');
  const st = await infoOf(stopped);
  t.equal(st.ExecutionStatus, 0, 'the stopped held task ended');
  t.equal(st.SubtaskInfoList?.length ?? 0, 0, 'and was never placed');
});
