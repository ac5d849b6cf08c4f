/**
 * Issue 14 (B3, SB9): three scheduler replicas on a real etcd, two executors that know every
 * replica. The leader is SIGKILLed in the middle of a 40-frame task: a follower leads within
 * 10 s, rebuilds its memory from etcd, and the task finishes with exactly 40 results stored once
 * each; a write sent to a follower is passed to the leader and answered by it. A leader SIGSTOPped past its lease is replaced; when it runs again its term is over: it
 * exits as soon as etcd tells it, and a command of its epoch is refused by the executors (which
 * the new leader told its epoch as its term began). Its writes would fail on the fence: that is
 * shown against a real etcd in test/scheduler/etcd-store-replicas.test.ts.
 */
import t, { type Test } from 'tap';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { startReplicas, type Replicas } from '../helpers/replicas.ts';
import { slowSource } from '../helpers/slow-source.ts';
import { waitFor } from '../helpers/cluster.ts';
import type { RoleProcess } from '../../src/child-role.ts';
import type { TaskInfo, TaskResultBody } from '../../src/protocol/index.ts';

async function twoCameraTask(t: Test, r: Replicas, leader: RoleProcess, dir: string, seconds: number) {
  const a = await slowSource(path.join(dir, 'a.ts'), seconds);
  const b = await slowSource(path.join(dir, 'b.ts'), seconds);
  t.teardown(() => { a.close(); b.close(); });
  // Two 10 s clips at 2 fps: 40 frames in all.
  const res = await r.client.send('POST', `${leader.url}/System/TaskRequest/`, {
    TaskName: 'two cameras, replicated', TaskType: 1, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: a.url }, { StreamURL: b.url }], AlgType: 'frame_extraction', TaskFrameRate: 2 } },
  });
  const id = (res.body as { TaskID?: string }).TaskID;
  if (!id) throw new Error(`refused: ${JSON.stringify(res.body)}`);
  return id;
}

const results = async (r: Replicas, url: string, id: string) =>
  ((await r.client.send('GET', `${url}/System/TaskResult/${id}?limit=500`)).body as { TaskResultList?: TaskResultBody[] }).TaskResultList ?? [];
const info = async (r: Replicas, url: string, id: string) =>
  ((await r.client.send('GET', `${url}/System/TaskInfo/${id}`)).body as { TaskInfo?: TaskInfo }).TaskInfo;
/** How many times each task ID was accepted by a task_dispatch, over every executor's log. */
function dispatchCounts(dir: string, executors: number): Map<string, number> {
  const n = new Map<string, number>();
  for (let i = 1; i <= executors; i++) {
    for (const line of readFileSync(path.join(dir, `edge-${i}.log`), 'utf8').split('\n')) {
      if (!line.includes('task_dispatch accepted')) continue;
      for (const id of (JSON.parse(line) as { tasks: string[] }).tasks) n.set(id, (n.get(id) ?? 0) + 1);
    }
  }
  return n;
}

const alive = (p: RoleProcess) => p.child.exitCode === null && p.child.signalCode === null;

t.test('B3, SB9: the leader SIGKILLed mid-task; a follower leads within 10 s and exactly 40 results are stored, once each', async (t) => {
  const dir = t.testdir({});
  const r = await startReplicas(dir, { replicas: 3, executors: 2, leaseTtlSec: 3 });
  t.teardown(() => r.stop());
  const first = await r.leader();
  const id = await twoCameraTask(t, r, first, dir, 14);
  await waitFor('results flowing', async () => ((await results(r, first.url, id)).length >= 6 ? true : undefined), 30_000);
  // A follower serves reads from its copy of the store.
  const follower = r.replicas.find((x) => x !== first)!;
  await waitFor('the follower sees the task', async () => ((await info(r, follower.url, id))?.TaskID === id ? true : undefined), 10_000);
  // A follower accepts a write by passing it to the leader, which answers it.
  const viaFollower = await r.client.send('POST', `${follower.url}/System/TaskRequest/`, { TaskName: 'x', TaskType: 1, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: 'file:///x' }], AlgType: 'no_such_algorithm' } } });
  t.equal(viaFollower.headers['x-retinad-forwarded-to'], first.url, 'a write to a follower goes to the leader');
  t.match(viaFollower.body, { StatusCode: '1', Message: /no_such_algorithm/ }, `and the leader's own answer comes back: ${JSON.stringify(viaFollower.body)}`);
  t.equal(viaFollower.headers['x-retinad-epoch'], (await r.client.send('GET', `${first.url}/System/DeviceList`)).headers['x-retinad-epoch'], 'with the leader\'s epoch');

  const killedAt = Date.now();
  const gone = new Promise((res) => first.child.once('exit', res));
  first.child.kill('SIGKILL');
  await gone;
  const next = await r.leader(15_000, first);
  const took = Date.now() - killedAt;
  t.ok(took < 10_000, `a follower leads ${took} ms after the leader was killed (lease 3 s)`);

  const end = await waitFor('the task to end', async () => {
    const ti = await info(r, next.url, id).catch(() => undefined);
    return ti && (ti.ExecutionStatus === 0 || ti.ExecutionStatus === 4) ? ti : undefined;
  }, 90_000, 250);
  t.equal(end.ExecutionStatus, 0, `done: ${JSON.stringify(end.SubtaskInfoList?.map((s) => s.TaskStatusInfo))}`);
  const list = await results(r, next.url, id);
  const keys = list.map((x) => `${x.TaskResultData.ImageResult?.ImageInfo?.SourceURL}@${x.TaskResultData.ImageResult?.ImageInfo?.Pts}`);
  t.equal(new Set(keys).size, keys.length, 'no frame stored twice');
  t.equal(list.length, 40, 'exactly 40 results: those the executors held while no replica led included');
  const counts = dispatchCounts(dir, 2);
  t.strictSame([...counts.values()], [1, 1], `each subtask dispatched once, across the fail-over: ${JSON.stringify([...counts])}`);
  // Every surviving replica reads the same 40 (payloads in the shared results directory).
  for (const x of r.replicas.filter(alive)) t.equal((await results(r, x.url, id)).length, 40, `replica ${x.url} reads all 40`);
});

t.test('B3: a leader SIGSTOPped past its lease is replaced; resumed, it finds its lease gone and exits, its commands carry an epoch the executors refuse, and nothing is dispatched twice', async (t) => {
  const dir = t.testdir({});
  const r = await startReplicas(dir, { replicas: 3, executors: 2, leaseTtlSec: 2 });
  t.teardown(async () => { for (const x of r.replicas) if (alive(x)) x.child.kill('SIGCONT'); await r.stop(); });
  const old = await r.leader();
  const id = await twoCameraTask(t, r, old, dir, 16);
  await waitFor('results flowing', async () => ((await results(r, old.url, id)).length >= 4 ? true : undefined), 30_000);
  const oldEpoch = (await r.client.send('GET', `${old.url}/System/DeviceList`)).headers['x-retinad-epoch'] as string;

  old.child.kill('SIGSTOP');
  const next = await r.leader(15_000, old);
  const newEpoch = (await r.client.send('GET', `${next.url}/System/DeviceList`)).headers['x-retinad-epoch'] as string;
  t.ok(BigInt(newEpoch) > BigInt(oldEpoch), `the new term's epoch ${newEpoch} is above the old ${oldEpoch}`);
  // The new leader tells every executor its epoch as its term begins (it asks what they run).
  const raised = (i: number) => readFileSync(path.join(dir, `edge-${i}.log`), 'utf8').includes(`"to":${newEpoch},`);
  await waitFor('both executors to know the new epoch', async () => (raised(1) && raised(2) ? true : undefined), 10_000);

  // Resumed, the old leader still believes it leads until it hears from etcd: whatever it does
  // now is refused. Ask it to pause the task (a command to both executors) at once.
  const exited = new Promise<number | null>((res) => old.child.once('exit', (code) => res(code)));
  old.child.kill('SIGCONT');
  const pause = await r.client.command(old.url, { CommandType: 'task_ops_control', CommandIdx: r.client.commandIdx(), MessageBody: { OpsControlList: [{ TaskID: id, Control: 2 }] } })
    .catch((err: Error) => ({ StatusCode: 'unreachable', Message: err.message }));
  t.not(pause.StatusCode, '0', `the old leader's pause did not take effect: ${JSON.stringify(pause)}`);
  t.equal(await exited, 75, 'the old leader exits (75: start me again, as a follower)');
  const oldLog = readFileSync(path.join(dir, `scheduler-${r.replicas.indexOf(old) + 1}.log`), 'utf8');
  t.match(oldLog, /leadership lost: exiting/, 'saying it lost the leadership');
  const logs = [1, 2].map((i) => readFileSync(path.join(dir, `edge-${i}.log`), 'utf8')).join('\n');
  const refusedByEpoch = (logs.match(/X-Retinad-Epoch: \d+ is older than \d+/g) ?? []).length;
  t.comment(`executors refused ${refusedByEpoch} command(s) of the deposed leader by epoch`);

  // A deposed leader's command, as it sends them (its epoch, the node token), is refused by an executor.
  const ex = r.executors[0]!;
  const stale = await r.client.send('POST', `${ex.url}/System/Command`, { CommandType: 'task_ops_control', CommandIdx: r.client.commandIdx(), MessageBody: { OpsControlList: [{ TaskID: 'any', Control: 2 }] } },
    { 'x-retinad-epoch': oldEpoch });
  t.match(stale.body, { StatusCode: '1', Message: /X-Retinad-Epoch/ }, `refused by epoch: ${JSON.stringify(stale.body)}`);

  const end = await waitFor('the task to end', async () => {
    const ti = await info(r, next.url, id).catch(() => undefined);
    return ti && (ti.ExecutionStatus === 0 || ti.ExecutionStatus === 4) ? ti : undefined;
  }, 90_000, 250);
  t.equal(end.ExecutionStatus, 0, 'the task finished under the new leader, never paused');
  const list = await results(r, next.url, id);
  const keys = list.map((x) => `${x.TaskResultData.ImageResult?.ImageInfo?.SourceURL}@${x.TaskResultData.ImageResult?.ImageInfo?.Pts}`);
  t.equal(new Set(keys).size, keys.length, 'no frame stored twice');
  t.equal(list.length, 40, 'all 40 frames');
  const counts = dispatchCounts(dir, 2);
  t.strictSame([...counts.values()], [1, 1], `each subtask dispatched once, by either leader: ${JSON.stringify([...counts])}`);
  for (const [i, s] of (end.SubtaskInfoList ?? []).entries()) t.equal(s.TaskStatusInfo.ExecutionStatus, 0, `subtask ${i + 1} ran to the end`);
});
