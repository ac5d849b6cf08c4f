/**
 * Bad input never crashes a server: hundreds of generated malformed requests against every
 * endpoint of a running scheduler and executor get JSON replies with StatusCode "1"; auth is
 * enforced everywhere but /System/Time; prototype-pollution payloads leave the servers clean; a
 * repeated command runs once; killing an executor leaves the scheduler up and moves its work,
 * which resumes where it stopped (S7, SB12, B8).
 */
import t from 'tap';
import fc from 'fast-check';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { request } from 'undici';
import * as P from '../../src/protocol/index.ts';
import { startCluster, waitFor, waitTaskEnd, type Cluster } from '../helpers/cluster.ts';
import { arbitraryOf, sitesOf, withField, wrongTypeFor, oneByteTooLong, DELETE } from '../helpers/schema-arbitrary.ts';
import { slowSource } from '../helpers/slow-source.ts';
import { FC_SEED } from '../helpers/seed.ts';
import type { TaskInfo } from '../../src/protocol/index.ts';
import { defined } from '../helpers/defined.ts';

interface Endpoint { method: 'POST' | 'PATCH' | 'GET'; path: string; schema?: P.TSchema }

const SCHEDULER_ENDPOINTS: Endpoint[] = [
  { method: 'POST', path: '/System/Keepalive', schema: P.KeepaliveRequest },
  { method: 'POST', path: '/System/UnRegister', schema: P.UnRegisterRequest },
  { method: 'PATCH', path: '/System/ResourceInfo/TotalResource', schema: P.TotalResource },
  { method: 'PATCH', path: '/System/ResourceInfo/AvailableResource', schema: P.AvailableResource },
  { method: 'POST', path: '/System/TaskRequest/', schema: P.TaskBasicInfo },
  { method: 'PATCH', path: '/System/TaskStatus/', schema: P.DevTaskStatus },
  { method: 'POST', path: '/System/Command', schema: P.TaskResult },
  { method: 'POST', path: '/System/Command', schema: P.TaskOpsControl },
  { method: 'POST', path: '/System/Command', schema: P.TaskStatusQuery },
  { method: 'POST', path: '/System/TaskEvent', schema: P.TaskEvent },
];
const EXECUTOR_ENDPOINTS: Endpoint[] = Object.values(P.COMMAND_SCHEMAS).map((schema) => ({ method: 'POST', path: '/System/Command', schema }));

/** A generated malformed body: broken JSON, JSON of the wrong shape, or a valid message with one field broken. */
function badBody(schema: P.TSchema): fc.Arbitrary<{ text: string; kind: string }> {
  const validish = arbitraryOf(schema);
  return fc.oneof(
    fc.string({ unit: 'binary', maxLength: 200 }).filter((s) => { try { JSON.parse(s); return false; } catch { return true; } }).map((text) => ({ text, kind: 'garbage' })),
    validish.chain((v) => fc.nat({ max: 50 }).map((cut) => { const s = JSON.stringify(v); return { text: s.slice(0, Math.max(1, s.length - 1 - cut)), kind: 'truncated' }; })),
    fc.oneof(fc.constant(null), fc.integer(), fc.string(), fc.array(fc.integer(), { maxLength: 3 }), fc.constant({})).map((v) => ({ text: JSON.stringify(v), kind: 'wrong-shape' })),
    fc.tuple(validish, fc.nat(), fc.constantFrom('type', 'missing', 'long')).map(([v, pick, how]) => {
      const sites = sitesOf(schema, v).filter((s) => (how === 'missing' ? s.required : how === 'long' ? typeof s.schema.maxBytes === 'number' : true));
      if (!sites.length) return { text: '[]', kind: 'wrong-shape' };
      const site = sites[pick % sites.length]!; // sites is not empty (checked above)
      const repl = how === 'type' ? wrongTypeFor(site.schema) : how === 'missing' ? DELETE : oneByteTooLong(site.schema.maxBytes as number, pick % 2 === 0);
      return { text: JSON.stringify(withField(v, site.path, repl)), kind: `mutated-${how}` };
    }),
    fc.constant({ text: '{"__proto__": {"polluted": true}, "x": 1}', kind: 'proto' }),
  );
}

async function raw(url: string, method: string, body: string | undefined, headers: Record<string, string>): Promise<{ status: number; json: unknown }> {
  const r = await request(url, { method: method as 'POST', body, headers, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const text = await r.body.text();
  let json: unknown;
  try { json = JSON.parse(text); } catch { json = { notJson: text.slice(0, 100) }; }
  return { status: r.statusCode, json };
}

let cluster: Cluster;
t.before(async () => {
  cluster = await startCluster(mkdtempSync(path.join(os.tmpdir(), 'retinad-robustness-')), 2);
});
t.teardown(() => cluster?.stop());

t.test('hundreds of generated malformed requests get StatusCode "1" and leave every server up (9.1, B8)', async (t) => {
  const auth = { authorization: `Bearer ${cluster.token}`, 'content-type': 'application/json' };
  const targets = [
    ...SCHEDULER_ENDPOINTS.map((e) => ({ ...e, base: cluster.scheduler.url })),
    ...EXECUTOR_ENDPOINTS.map((e) => ({ ...e, base: cluster.executor(0).url })),
  ];
  let sent = 0;
  const kinds: Record<string, number> = {};
  const failures: string[] = [];
  for (const ep of targets) {
    const samples = fc.sample(badBody(ep.schema!), { numRuns: 30, seed: FC_SEED + targets.indexOf(ep) });
    for (const b of samples) {
      const r = await raw(ep.base + ep.path, ep.method, b.text, auth);
      sent++;
      kinds[b.kind] = (kinds[b.kind] ?? 0) + 1;
      const j = r.json as { StatusCode?: string; Message?: string };
      if (j.StatusCode !== '1' || r.status < 400 || r.status >= 500 || !j.Message) {
        failures.push(`${ep.method} ${ep.path} [${b.kind}] ${b.text.slice(0, 80)} → HTTP ${r.status} ${JSON.stringify(j).slice(0, 160)} (seed ${FC_SEED})`);
      }
    }
  }
  // GET endpoints with bad parameters.
  for (const p of ['/System/TaskInfo/nope', '/System/TaskResult/nope', '/System/TaskResult/x?after=-1', '/System/TaskResult/x?limit=0', '/System/TaskResult/x?after=abc', '/System/NoSuchThing']) {
    const r = await raw(cluster.scheduler.url + p, 'GET', undefined, { authorization: auth.authorization });
    sent++;
    const j = r.json as { StatusCode?: string };
    if (j.StatusCode !== '1' || r.status < 400) failures.push(`GET ${p} → ${r.status} ${JSON.stringify(j)}`);
  }
  t.ok(sent >= 400, `sent ${sent} malformed requests (${JSON.stringify(kinds)})`);
  t.strictSame(failures.slice(0, 10), [], 'every one answered with StatusCode "1" and a 4xx');
  for (const node of [cluster.scheduler, ...cluster.executors]) {
    t.equal(node.child.exitCode, null, `pid ${node.child.pid} still running`);
    const r = await raw(`${node.url}/System/Time`, 'GET', undefined, {});
    t.equal((r.json as { StatusCode: string }).StatusCode, '0', `${node.url} still answers`);
  }
});

/** Required field names of a schema at every depth: the keys a polluted Object.prototype would fake. */
function requiredNames(schema: P.TSchema, out = new Set<string>()): Set<string> {
  const x = schema as Record<string, unknown>;
  for (const k of (x.required as string[] | undefined) ?? []) out.add(k);
  for (const sub of Object.values((x.properties ?? {}) as Record<string, P.TSchema>)) requiredNames(sub, out);
  if (x.items) requiredNames(x.items as P.TSchema, out);
  return out;
}

t.test('prototype pollution payloads on every body route leave the servers\' objects clean', async (t) => {
  const auth = { authorization: `Bearer ${cluster.token}`, 'content-type': 'application/json' };
  const targets = [
    ...SCHEDULER_ENDPOINTS.map((e) => ({ ...e, base: cluster.scheduler.url })),
    ...EXECUTOR_ENDPOINTS.map((e) => ({ ...e, base: cluster.executor(0).url })),
  ];
  // What a polluted Object.prototype would carry: every required field name of every message. A
  // server whose prototype had them would find them on any object, so a body missing a required
  // field would no longer be refused as missing it — that is what the probes below look at.
  const names = new Set<string>();
  for (const ep of targets) requiredNames(ep.schema!, names);
  const fake = Object.fromEntries([...names, 'polluted'].map((k) => [k, 'polluted']));
  const payload = JSON.stringify(fake);
  /** A body with no fields: each route must refuse it naming its own missing required fields. */
  const probe = async () => Promise.all(targets.map(async (ep) => JSON.stringify((await raw(ep.base + ep.path, ep.method, '{}', auth)).json)));
  const before = await probe();
  t.ok(before.every((b) => /is required/.test(b)), 'the probes are sensitive: each names a missing required field');
  let sent = 0;
  for (const ep of targets) {
    // At the top and inside every object of a valid message, under both spellings.
    const v = fc.sample(arbitraryOf(ep.schema!), { numRuns: 1, seed: FC_SEED })[0];
    const objects = [[] as Array<string | number>, ...sitesOf(ep.schema!, v).filter((x) => x.schema.type === 'object' && !isAbsent(v, x.path)).map((x) => x.path)];
    for (const at of objects) {
      for (const key of ['__proto__', 'constructor']) {
        const marked = JSON.stringify(withField(v, [...at, '__POLLUTE__'], 0));
        const text = marked.replace('"__POLLUTE__":0', key === '__proto__' ? `"__proto__":${payload}` : `"constructor":{"prototype":${payload}}`);
        await raw(ep.base + ep.path, ep.method, text, auth);
        sent++;
      }
    }
  }
  const after = await probe();
  t.ok(sent >= 100, `${sent} polluting requests sent`);
  t.strictSame(after, before, 'every route still refuses an empty body for the same missing fields (no prototype of the server was polluted)');
  for (const node of [cluster.scheduler, ...cluster.executors]) t.equal(node.child.exitCode, null, `pid ${node.child.pid} still running`);
});

/** True when the field at `path` is not in `v` (a required one sitesOf lists for deletion). */
function isAbsent(v: unknown, path: Array<string | number>): boolean {
  let cur = v as Record<string | number, unknown> | undefined;
  for (const p of path) { if (!cur || typeof cur !== 'object' || !(p in cur)) return true; cur = cur[p] as Record<string | number, unknown>; }
  return !cur || typeof cur !== 'object' || Array.isArray(cur);
}

t.test('SM4: bearer token required on every route but GET /System/Time; Register needs Digest', async (t) => {
  for (const ep of [...SCHEDULER_ENDPOINTS, { method: 'GET', path: '/System/TaskInfo/x' }, { method: 'GET', path: '/System/TaskResult/x' }, { method: 'GET', path: '/System/DeviceList' }] as Endpoint[]) {
    const r = await raw(cluster.scheduler.url + ep.path, ep.method, ep.method === 'GET' ? undefined : '{}', ep.method === 'GET' ? {} : { 'content-type': 'application/json' });
    t.equal(r.status, 401, `${ep.method} ${ep.path} without token → 401`);
    t.equal((r.json as { StatusCode: string }).StatusCode, '1');
    const w = await raw(cluster.scheduler.url + ep.path, ep.method, ep.method === 'GET' ? undefined : '{}', { authorization: 'Bearer wrong', ...(ep.method === 'GET' ? {} : { 'content-type': 'application/json' }) });
    t.equal(w.status, 401, `${ep.method} ${ep.path} with a wrong token → 401`);
  }
  const ex = await raw(cluster.executor(0).url + '/System/Command', 'POST', '{}', { 'content-type': 'application/json' });
  t.equal(ex.status, 401, 'executor command route needs the token');
  const time = await raw(cluster.scheduler.url + '/System/Time', 'GET', undefined, {});
  t.equal(time.status, 200);
  t.ok(P.parse(P.SystemTimeReply, time.json).ok, 'GET /System/Time is public and well-formed');
  const reg = await request(cluster.scheduler.url + '/System/Register', { method: 'POST', body: JSON.stringify({ RegisterObject: { DeviceID: 'x', DeviceType: '1', ProductType: 'p' } }), headers: { 'content-type': 'application/json', authorization: `Bearer ${cluster.token}` } });
  t.equal(reg.statusCode, 401, 'Register with a bearer token but no Digest → 401');
  t.match(String(reg.headers['www-authenticate']), /Digest realm="retinad".*algorithm=SHA-256/, 'Digest challenge offered');
  await reg.body.text();
});

t.test('a repeated (sender, CommandIdx) gets the first reply and runs once; a TimeRange task waits queued (ExecutionStatus 3)', async (t) => {
  const cmd = { CommandType: 'task_dispatch', CommandIdx: 4242, DeviceID: 'edge-1', MessageBody: { TaskDispatchList: [{
    // A time-window task for tomorrow: it stays queued, so a second run would be visible.
    TaskID: 'dup-test-1', TaskAttr: 1, ExecutionCond: { TimeRange: [{ StartTime: P.formatRetinaDateTime(Date.now() + 86_400_000) }] },
    AlgModelInfo: { AlgID: 1001, AlgVersion: '1.0.0' }, InputInfo: { StreamURL: pathToFileURL(path.join(os.tmpdir(), 'retinad-dup-test-not-yet.mp4')).href, TaskFrameRate: 1 }, DstDeviceList: [],
  }] } };
  const h = { authorization: `Bearer ${cluster.token}`, 'content-type': 'application/json', 'x-sender-id': 'dup-sender' };
  const send = (body: unknown, headers = h) => raw(cluster.executor(0).url + '/System/Command', 'POST', JSON.stringify(body), headers);
  const other = structuredClone(cmd);
  defined(other.MessageBody.TaskDispatchList[0], 'the dispatch in the copy').InputInfo.StreamURL = pathToFileURL(path.join(os.tmpdir(), 'retinad-dup-test-other.mp4')).href;
  const a = await send(cmd);
  const b = await send(cmd);
  t.strictSame(a.json, { StatusCode: '0', CommandType: 'task_dispatch', CommandIdx: 4242 });
  t.strictSame(b.json, a.json, 'same reply');
  // Run a second time, this body would be refused (other work under the same TaskID, as 4244
  // below is): the first reply instead shows the handler did not run again.
  const again = await send(other);
  t.strictSame(again.json, a.json, 'a repeat of 4242 with another body gets the first reply: the handler did not run again');
  const fromElse = await send(other, { ...h, 'x-sender-id': 'another-sender' });
  t.equal((fromElse.json as { StatusCode: string }).StatusCode, '1', 'the same CommandIdx from another sender is a new command, and it runs (refused: other work)');
  const c = await send({ ...cmd, CommandIdx: 4243 });
  t.equal((c.json as { StatusCode: string }).StatusCode, '0', 'a new CommandIdx with the same work: the task is kept as it is (a scheduler placing it back here)');
  const d = await send({ ...other, CommandIdx: 4244 });
  t.equal((d.json as { StatusCode: string }).StatusCode, '1', 'other work under the same TaskID is refused');
  t.match((d.json as { Message: string }).Message, /TaskID: task "dup-test-1" already exists here with other work/);
  // One task, waiting for its window: ExecutionStatus 3 (table 31, queued).
  const q = await send({ CommandType: 'task_status_query', CommandIdx: 4245, MessageBody: {} });
  const reply = P.parse(P.TaskStatusQueryReply, q.json);
  t.ok(reply.ok, JSON.stringify(q.json).slice(0, 300));
  const mine = reply.ok ? reply.value.TaskStatusSet.flatMap((x) => x.TaskStatusList ?? []).filter((x) => x.TaskID === 'dup-test-1') : [];
  t.equal(mine.length, 1, 'the executor holds the task once');
  t.equal(mine[0]?.ExecutionStatus, P.ExecutionStatus.Queued, 'queued until its time window opens (ExecutionStatus 3)');
});

t.test('S8: a broken or missing source ends the task with ExecutionStatus 4 and ExceptionCode 60', async (t) => {
  const garbage = path.join(cluster.dir, 'garbage.mp4');
  (await import('node:fs')).writeFileSync(garbage, Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) % 256)));
  // A missing file inside a media dir (the executors' --media-dir includes the temp dir) and a garbage file.
  for (const url of [pathToFileURL(path.join(os.tmpdir(), 'retinad-definitely-not-here.mp4')).href, `file://${garbage}`]) {
    const r = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, {
      TaskName: 'bad source', TaskType: 1, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: url }], AlgType: 'frame_extraction', TaskFrameRate: 1 } },
    });
    const id = (r.body as { TaskID: string }).TaskID;
    const info = await waitFor('task error', async () => {
      const x = await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskInfo/${id}`);
      const ti = (x.body as { TaskInfo: TaskInfo }).TaskInfo;
      return ti.ExecutionStatus === 4 ? ti : undefined;
    }, 20_000);
    const st = defined(info.SubtaskInfoList?.[0], 'a subtask of the failed task').TaskStatusInfo;
    t.equal(st.ExecutionStatus, 4, `${url}: error`);
    t.equal(st.ExceptionCode, 60, `${url}: data source error`);
    t.ok(st.ExceptionDesc && st.ExceptionDesc.length > 10, `explained: ${st.ExceptionDesc}`);
  }
});

t.test('a TaskRequest nobody can serve is refused with the reason (table 18)', async (t) => {
  const r = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, {
    TaskName: 'x', InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: 'file:///x.mp4' }], AlgType: 'no_such_algorithm' } },
  });
  t.equal((r.body as { StatusCode: string }).StatusCode, '1');
  t.match((r.body as { Message: string }).Message, /no online executor offers AlgType "no_such_algorithm"/);
});

t.test('killing an executor mid-task: scheduler stays up, marks it offline and migrates the subtask, which resumes after its last stored frame (S7, SB12)', async (t) => {
  // A clip served slowly over HTTP keeps the task running long enough to kill its executor.
  const src = await slowSource(path.join(cluster.dir, 'heavy.ts'), 8);
  t.teardown(() => src.close());
  const url = src.url;
  const r = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, {
    TaskName: 'migrate me', TaskType: 1, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: url }], AlgType: 'frame_extraction', TaskFrameRate: 2 } },
  });
  const id = (r.body as { TaskID: string }).TaskID;
  t.ok(id, 'accepted');
  const results = async () => ((await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskResult/${id}?limit=500`)).body as { TaskResultList: P.TaskResultBody[] }).TaskResultList ?? [];
  // Killed once a few frames are stored, so resuming and restarting from 0 differ.
  const first = await waitFor('subtask running with results stored', async () => {
    const x = await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskInfo/${id}`);
    const s = (x.body as { TaskInfo: TaskInfo }).TaskInfo.SubtaskInfoList?.[0];
    return s && s.TaskStatusInfo.ExecutionStatus === 1 && (await results()).length >= 3 ? s.TaskExecutor.DeviceID : undefined;
  }, 15_000, 100);
  const victim = cluster.executor(first);
  victim.child.kill('SIGKILL');
  const info = await waitTaskEnd(cluster, id, 40_000);
  t.equal(cluster.scheduler.child.exitCode, null, 'scheduler still running');
  t.equal(info.ExecutionStatus, 0, `finished: ${JSON.stringify(info.SubtaskInfoList?.[0]?.TaskStatusInfo)}`);
  const moved = defined(info.SubtaskInfoList?.[0], 'the moved subtask');
  t.not(moved.TaskExecutor.DeviceID, first, 'the subtask moved to the other executor');
  const devs = await cluster.client.send('GET', `${cluster.scheduler.url}/System/DeviceList`);
  const victimRow = (devs.body as { DeviceList: Array<{ DeviceID: string; Online: boolean }> }).DeviceList.find((d) => d.DeviceID === first);
  t.equal(victimRow?.Online, false, 'killed executor is offline');
  const list = await results();
  const ptsOf = (x: P.TaskResultBody) => P.imageInfoPts(x.TaskResultData.ImageResult?.ImageInfo) ?? -1;
  const pts = list.map(ptsOf);
  const before = list.filter((x) => x.DeviceID === first).map(ptsOf);
  const after = list.filter((x) => x.DeviceID === moved.TaskExecutor.DeviceID).map(ptsOf);
  t.ok(before.length >= 3 && after.length >= 1, `results from both executors: ${before.length} before the kill, ${after.length} after`);
  t.type(moved.TaskDispatchInfo.InputInfo.AlgArgs?.StartOffsetMs, 'number', `re-dispatched with StartOffsetMs ${moved.TaskDispatchInfo.InputInfo.AlgArgs?.StartOffsetMs}`);
  // SB12: resumed, not restarted — no frame up to the last stored one is produced again…
  t.ok(Math.min(...after) > Math.max(...before), `the moved subtask starts after the last stored frame (${Math.max(...before)} ms): its first is ${Math.min(...after)} ms`);
  t.equal(new Set(pts).size, pts.length, `no frame stored twice: ${pts.join(' ')}`);
  // …and none is skipped: at 2 fps consecutive frames are 500 ms apart (a 25 fps clip: ±40 ms).
  const sorted = [...pts].sort((a, b) => a - b);
  const gaps = sorted.slice(1).map((p, i) => p - sorted[i]!); // sorted[i] is the frame before p
  t.ok((sorted.at(0) ?? NaN) <= 40 && gaps.every((g) => g <= 540), `no frame skipped across the move (largest gap ${Math.max(...gaps)} ms)`);
  t.ok((sorted.at(-1) ?? NaN) >= 9000, 'the clip was processed to its end');
});

t.test('EM1: an executor stopped with SIGTERM logs out of the scheduler at once', async (t) => {
  const alive = cluster.executors.find((e) => e.child.exitCode === null && e.child.signalCode === null)!;
  const id = cluster.executorIds[cluster.executors.indexOf(alive)];
  t.equal(await alive.stop(5000), 0, 'clean exit');
  const devs = await cluster.client.send('GET', `${cluster.scheduler.url}/System/DeviceList`);
  const row = (devs.body as { DeviceList: Array<{ DeviceID: string; Online: boolean }> }).DeviceList.find((d) => d.DeviceID === id);
  // Asked right after the exit: keepalives are missed only after 3 intervals, so this is UnRegister.
  t.equal(row?.Online, false, 'offline right after exit, not after missed keepalives');
});
