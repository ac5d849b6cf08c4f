/**
 * Cascade (5.2, Annex B.2) across real processes: a top scheduler, two lower schedulers that
 * register with it as devices of their level, an executor under each. A task submitted at the
 * top is planned there, its subtasks dispatched to the lower schedulers, planned and placed
 * again among their executors; status and results flow back up to the initiator's NotifyURL;
 * control flows down. HierarchicalQuery "1" merges both levels for the three query commands.
 * A lower scheduler killed mid-task is handled like an executor: its subtask resumes at the
 * other site after the last stored result.
 */
import t from 'tap';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { waitFor } from '../helpers/cluster.ts';
import { initiator, deviceList, startCascade, type CascadeCluster } from '../helpers/cascade-cluster.ts';
import { slowSource } from '../helpers/slow-source.ts';
import { makeSampleClip } from '../../src/demo.ts';
import { imageInfoPts, type AlgResource, type AvailableResource, type DevTaskStatus, type TaskInfo, type TaskResultBody, type TotalResource } from '../../src/protocol/index.ts';
import { defined } from '../helpers/defined.ts';

const SITES = { 'lower-a': ['edge-a1'], 'lower-b': ['edge-b1'] };
const ALL = ['top', 'lower-a', 'lower-b', 'edge-a1', 'edge-b1'];
/** Nothing listens there: commands to it cannot connect over HTTP. */
const NAT_URL = 'http://127.0.0.1:9';
let c: CascadeCluster;

t.before(async () => {
  // edge-b1 is behind NAT: it advertises a CommandURL nobody can connect to and opens the
  // WebSocket command channel to lower-b instead; every command lower-b sends it goes there.
  // lower-b too, as the top sees it: it registers upwards with a CommandURL the top cannot connect to.
  c = await startCascade(path.join(t.testdir({}), 'cascade'), SITES, { executorArgs: (id) => (id === 'edge-b1' ? ['--advertise', NAT_URL, '--command-channel'] : []),
    lowerArgs: (id) => (id === 'lower-b' ? ['--upstream-advertise', NAT_URL, '--command-channel'] : []) });
});
t.teardown(() => c?.stop());

const info = async (url: string, id: string) => ((await c.client.send('GET', `${url}/System/TaskInfo/${id}`)).body as { TaskInfo?: TaskInfo }).TaskInfo;
const results = async (url: string, id: string) => ((await c.client.send('GET', `${url}/System/TaskResult/${id}?limit=500`)).body as { TaskResultList?: TaskResultBody[] }).TaskResultList ?? [];
const submit = async (name: string, inputs: string[], extra: Record<string, unknown> = {}) => {
  const r = await c.client.send('POST', `${c.top.url}/System/TaskRequest/`, { TaskType: 1, TaskName: name,
    InitiationInfo: { DeviceID: 'initiator-1', CustomInfo: { Inputs: inputs.map((StreamURL) => ({ StreamURL })), AlgType: 'frame_extraction', TaskFrameRate: 2, ...extra } } });
  return defined((r.body as { TaskID?: string }).TaskID, `TaskID of ${JSON.stringify(r.body)}`);
};
const ended = (url: string, id: string, ms = 60_000) => waitFor(`task ${id} to end at ${url}`, async () => {
  const ti = await info(url, id);
  return ti && (ti.ExecutionStatus === 0 || ti.ExecutionStatus === 4) ? ti : undefined;
}, ms, 250);
const query = <R>(body: Record<string, unknown>) => c.client.command<R>(c.top.url, { ...body, CommandIdx: c.client.commandIdx() });

t.test('5.2, 9.3: each lower scheduler is a device of the top one (DeviceType 1) reporting its site: TotalResource, AvailableResource, the union of its executors\' algorithms', async (t) => {
  const atTop = (await c.client.send('GET', `${c.top.url}/System/DeviceList`)).body as { DeviceList: Array<{ DeviceID: string; DeviceType: string; ProductType: string; Online: boolean; AlgInfoList: Array<{ AlgType: string }>; TotalResource: TotalResource | null; AvailableResource: AvailableResource | null }> };
  for (const id of Object.keys(SITES)) {
    const d = defined(atTop.DeviceList.find((x) => x.DeviceID === id), `${id} at the top`);
    t.match(d, { DeviceType: '1', ProductType: 'retinad-scheduler', Online: true }, `${id} registered as an edge-level device`);
    t.ok(d.AlgInfoList.some((a) => a.AlgType === 'frame_extraction'), `${id} offers its executor's frame_extraction`);
    t.equal(d.TotalResource?.DeviceID, id, 'its aggregate TotalResource reached the top');
    t.equal(d.TotalResource?.ResourceInfo.ExtendInfo?.Executors, 1, 'counting its one executor');
    // Reported on change: the executor's own TotalResource may reach its lower scheduler after it registered.
    const mem = await waitFor(`${id}'s memory at the top`, async () => {
      const row = (await deviceList(c.client, c.top.url)).find((x) => x.DeviceID === id) as unknown as { TotalResource: TotalResource | null } | undefined;
      const m = row?.TotalResource?.ResourceInfo.CommonResource?.TotalMemory ?? 0;
      return m > 0 ? m : undefined;
    }, 15_000, 250);
    t.ok(mem > 0, `with the executor's memory (${mem} bytes)`);
    t.equal(d.AvailableResource?.DeviceID, id, 'and its AvailableResource');
  }
  t.notOk(atTop.DeviceList.some((x) => x.DeviceID.startsWith('edge-')), 'executors are not the top\'s devices: they are their lower scheduler\'s');
});

t.test('NAT (PROTOCOL.md command channel): an executor and a lower scheduler unreachable at their CommandURL get their commands over the WebSocket they opened', async (t) => {
  const atTop = (await deviceList(c.client, c.top.url)).find((d) => d.DeviceID === 'lower-b') as { CommandURL?: string; AlgInfoList: unknown[] } | undefined;
  t.equal(atTop?.CommandURL, NAT_URL, 'the top cannot connect to lower-b');
  t.ok(atTop?.AlgInfoList.length, 'yet it has lower-b\'s algorithm union (asked over the channel)');
  const nat = defined((await deviceList(c.client, defined(c.lower.get('lower-b'), 'lower-b').url)).find((d) => d.DeviceID === 'edge-b1'), 'edge-b1 at lower-b') as { CommandURL?: string; Online: boolean; AlgInfoList: unknown[] };
  t.equal(nat.CommandURL, NAT_URL, 'its CommandURL cannot be connected to');
  t.ok(nat.Online && nat.AlgInfoList.length > 0, 'yet lower-b has its algorithm list (algorithm_res_query answered over the channel)');
  // A command to it through lower-b's own query: lower-b asks edge-b1 over the channel and merges the answer.
  const q = await c.client.command<{ AlgResourceList: AlgResource[] }>(defined(c.lower.get('lower-b'), 'lower-b').url,
    { CommandType: 'algorithm_res_query', CommandIdx: c.client.commandIdx(), MessageBody: { DeviceList: [{ DeviceID: 'edge-b1', HierarchicalQuery: '1' }] } });
  t.strictSame(q.AlgResourceList.map((a) => a.DeviceID), ['edge-b1'], `edge-b1 answered itself: ${q.Message ?? ''}`);
});

t.test('B.2, I1, I2: a task submitted at the top is planned there, placed by the lower schedulers on their executors; status and every result reach the initiator', async (t) => {
  const dir = t.testdir({});
  const clips = ['one', 'two'].map((n) => path.join(dir, `${n}.mp4`));
  for (const f of clips) makeSampleClip(f, 'testsrc', 10, '640x360');
  const init = await initiator();
  t.teardown(() => init.close());
  const id = await submit('top-down', clips.map((f) => pathToFileURL(f).href), { NotifyURL: init.url });
  const top = await ended(c.top.url, id);
  t.equal(top.ExecutionStatus, 0, `done at the top: ${JSON.stringify(top.SubtaskInfoList?.map((s) => s.TaskStatusInfo))}`);
  const subs = defined(top.SubtaskInfoList, 'subtasks');
  t.equal(subs.length, 2, 'one subtask per input');
  for (const s of subs) {
    const site = s.TaskExecutor.DeviceID;
    t.ok(site in SITES, `subtask ${s.TaskDispatchInfo.TaskID} placed on lower scheduler ${site}`);
    // The lower scheduler ran it as a task of its own, under the same TaskID, on its executor.
    const lower = defined(await info(defined(c.lower.get(site), site).url, s.TaskDispatchInfo.TaskID), `the task at ${site}`);
    t.equal(lower.ExecutionStatus, 0, `done at ${site}`);
    t.strictSame(lower.DeviceList, SITES[site as keyof typeof SITES], `${site} placed it on its executor`);
  }
  const stored = await waitFor('every result at the top', async () => {
    const r = await results(c.top.url, id);
    return r.length >= 36 ? r : undefined;
  }, 20_000, 250);
  t.ok(stored.every((r) => r.DeviceID in SITES && subs.some((s) => s.TaskDispatchInfo.TaskID === r.TaskID)), 'results carry the upper subtask\'s TaskID and the lower scheduler\'s DeviceID');
  for (const s of subs) {
    const pts = stored.filter((r) => r.TaskID === s.TaskDispatchInfo.TaskID).map((r) => imageInfoPts(r.TaskResultData.ImageResult?.ImageInfo) ?? -1);
    t.equal(new Set(pts).size, pts.length, `${s.TaskDispatchInfo.TaskID}: ${pts.length} frames, none twice (${pts.join(' ')})`);
  }
  await waitFor('every result at the initiator', async () => (init.results.length >= stored.length ? true : undefined), 20_000, 250);
  t.equal(init.results.length, stored.length, `${stored.length} results pushed to NotifyURL`);
  await waitFor('the final status at the initiator', async () => (init.statuses.at(-1) === 0 ? true : undefined), 10_000, 250);
  t.equal(init.statuses.at(-1), 0, `statuses pushed: ${init.statuses.join(',')}`);
});

t.test('9.2, 9.4, 9.9 cascade; 9.7 down the cascade: HierarchicalQuery "1" at the top merges both levels; filters apply at every level; a stop flows down', async (t) => {
  const dir = t.testdir({});
  const srcs = await Promise.all(['a', 'b'].map((n) => slowSource(path.join(dir, `q-${n}.ts`), 30)));
  t.teardown(() => { for (const s of srcs) s.close(); });
  const id = await submit('queried', srcs.map((s) => s.url));
  const running = await waitFor('both subtasks running at the top', async () => {
    const ti = await info(c.top.url, id);
    return ti?.SubtaskInfoList?.length === 2 && ti.SubtaskInfoList.every((s) => s.TaskStatusInfo.ExecutionStatus === 1) ? ti : undefined;
  }, 30_000, 250);
  const subIds = defined(running.SubtaskInfoList, 'subtasks').map((s) => s.TaskDispatchInfo.TaskID);

  const total = await query<{ TotalResourceList: TotalResource[] }>({ CommandType: 'total_res_query', MessageBody: { DeviceList: [{ DeviceID: 'top', HierarchicalQuery: '1' }] } });
  t.strictSame(total.TotalResourceList.map((x) => x.DeviceID).sort(), [...ALL].sort(), `total_res_query "1": ${total.Message ?? ''}`);
  const own = await query<{ TotalResourceList: TotalResource[] }>({ CommandType: 'total_res_query', MessageBody: { DeviceList: [{ DeviceID: 'top', HierarchicalQuery: '0' }] } });
  t.strictSame(own.TotalResourceList.map((x) => x.DeviceID), ['top'], 'total_res_query "0": the top alone');
  t.equal(own.TotalResourceList[0]?.ResourceInfo.ExtendInfo?.Executors, 2, 'its site: both lower schedulers');
  const schedulers = await query<{ TotalResourceList: TotalResource[] }>({ CommandType: 'total_res_query', MessageBody: { ProductType: 'retinad-scheduler', DeviceList: [{ DeviceID: 'top', HierarchicalQuery: '1' }] } });
  t.strictSame(schedulers.TotalResourceList.map((x) => x.DeviceID).sort(), ['lower-a', 'lower-b', 'top'], 'ProductType filter applied at both levels');
  const box = await query<{ TotalResourceList: TotalResource[] }>({ CommandType: 'total_res_query', MessageBody: { LongitudeMin: '0.000000', LongitudeMax: '1.000000', DeviceList: [{ DeviceID: 'top', HierarchicalQuery: '1' }] } });
  t.strictSame(box.TotalResourceList, [], 'a Longitude range nobody registered in leaves nobody');
  const avail = await query<{ AvailableResourceList: AvailableResource[] }>({ CommandType: 'available_res_query', MessageBody: { DeviceList: [{ DeviceID: 'top', HierarchicalQuery: '1' }] } });
  t.strictSame(avail.AvailableResourceList.map((x) => x.DeviceID).sort(), [...ALL].sort(), 'available_res_query "1"');
  const algs = await query<{ AlgResourceList: AlgResource[] }>({ CommandType: 'algorithm_res_query', MessageBody: { DeviceList: [{ DeviceID: 'top', HierarchicalQuery: '1' }] } });
  t.strictSame(algs.AlgResourceList.map((x) => x.DeviceID).sort(), [...ALL].sort(), 'algorithm_res_query "1"');
  t.ok(algs.AlgResourceList.every((a) => a.AlgInfoList.some((x) => x.AlgType === 'frame_extraction')), 'each with frame_extraction');

  const st = await query<{ TaskStatusSet: DevTaskStatus[] }>({ CommandType: 'task_status_query', MessageBody: { DeviceList: [{ DeviceID: 'top', HierarchicalQuery: '1', TaskIDList: [id] }] } });
  const by = new Map(st.TaskStatusSet.map((d) => [d.DeviceID, d.TaskStatusList ?? []]));
  t.match(by.get('top'), [{ TaskID: id, ExecutionStatus: 1 }], 'the task at the top');
  const lowerIds = [...by.keys()].filter((k) => k in SITES);
  t.ok(lowerIds.length >= 1, `lower schedulers answer for themselves: ${[...by.keys()].join(', ')}`);
  t.strictSame(lowerIds.flatMap((k) => (by.get(k) ?? []).map((s) => s.TaskID)).sort(), [...subIds].sort(), 'each lower scheduler: the subtasks it runs as tasks');
  const edgeSubs = [...by.entries()].filter(([k]) => k.startsWith('edge-')).flatMap(([, l]) => l);
  t.strictSame(edgeSubs.map((s) => s.ParentTaskID).sort(), [...subIds].sort(), 'their executors: one subtask each, whose parent is the top\'s subtask');

  t.equal((await query({ CommandType: 'task_ops_control', MessageBody: { OpsControlList: [{ TaskID: id, Control: 1 }] } })).StatusCode, '0', 'stop accepted at the top');
  const end = await ended(c.top.url, id, 30_000);
  t.equal(end.ExecutionStatus, 0, 'ended as stopped');
  for (const s of defined(end.SubtaskInfoList, 'subtasks')) {
    const lower = await ended(defined(c.lower.get(s.TaskExecutor.DeviceID), 'its site').url, s.TaskDispatchInfo.TaskID, 30_000);
    t.equal(lower.SubtaskInfoList?.[0]?.TaskStatusInfo.ExceptionDesc, 'stopped by task_ops_control', `the stop reached ${s.TaskExecutor.DeviceID}'s executor`);
  }
});

t.test('S7, SB12 across levels: a lower scheduler killed mid-task is offline at the top; its subtask resumes at the other site after the last stored result; back, it is reconciled', async (t) => {
  const src = await slowSource(path.join(t.testdir({}), 'kill.ts'), 20);
  t.teardown(() => src.close());
  const id = await submit('survive a site', [src.url]);
  const first = await waitFor('subtask running with results at the top', async () => {
    const s = (await info(c.top.url, id))?.SubtaskInfoList?.[0];
    return s && s.TaskStatusInfo.ExecutionStatus === 1 && (await results(c.top.url, id)).length >= 3 ? s.TaskExecutor.DeviceID : undefined;
  }, 30_000, 200);
  defined(c.lower.get(first), first).child.kill('SIGKILL');
  const subId = defined((await info(c.top.url, id))?.SubtaskInfoList?.[0], 'subtask').TaskDispatchInfo.TaskID;
  await waitFor('the subtask running at the other site', async () => {
    const s = (await info(c.top.url, id))?.SubtaskInfoList?.[0];
    return s && s.TaskExecutor.DeviceID !== first && s.TaskStatusInfo.ExecutionStatus === 1 ? true : undefined;
  }, 30_000, 250);
  t.equal((await deviceList(c.client, c.top.url)).find((d) => d.DeviceID === first)?.Online, false, 'the killed lower scheduler is offline at the top');
  // Back while the moved subtask still runs: its old copy (its executor never stopped) is told to stop.
  const back = await c.restartLower(first);
  const old = await ended(back.url, subId, 30_000);
  t.equal(old.ExecutionStatus, 0, `the copy left at ${first} ended: ${JSON.stringify(old.SubtaskInfoList?.[0]?.TaskStatusInfo)}`);
  t.equal(old.SubtaskInfoList?.[0]?.TaskStatusInfo.ExceptionDesc, 'stopped by task_ops_control', 'stopped by the top, not run to its end');
  const end = await ended(c.top.url, id, 90_000);
  t.equal(end.ExecutionStatus, 0, `finished: ${JSON.stringify(end.SubtaskInfoList?.[0]?.TaskStatusInfo)}`);
  const moved = defined(end.SubtaskInfoList?.[0], 'the moved subtask');
  t.not(moved.TaskExecutor.DeviceID, first, `moved from ${first} to ${moved.TaskExecutor.DeviceID}`);
  t.equal((await deviceList(c.client, c.top.url)).find((d) => d.DeviceID === first)?.Online, true, 'the returned lower scheduler is online at the top again');
  t.type(moved.TaskDispatchInfo.InputInfo.AlgArgs?.StartOffsetMs, 'number', 're-dispatched with StartOffsetMs');
  const list = await results(c.top.url, id);
  const ptsOf = (x: TaskResultBody) => imageInfoPts(x.TaskResultData.ImageResult?.ImageInfo) ?? -1;
  const before = list.filter((x) => x.DeviceID === first).map(ptsOf);
  const after = list.filter((x) => x.DeviceID === moved.TaskExecutor.DeviceID).map(ptsOf);
  t.ok(before.length >= 3 && after.length >= 1, `results from both sites: ${before.length} before the kill, ${after.length} after`);
  t.ok(Math.min(...after) > Math.max(...before), `resumed after the last stored frame (${Math.max(...before)} ms): first after the move ${Math.min(...after)} ms`);
});
