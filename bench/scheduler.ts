/**
 * The scheduler at fleet scale: simulated executors speaking the real protocol over HTTP
 * (Register with Digest, keepalives at the interval the scheduler hands out, TotalResource and
 * AvailableResource reports, answering every command, status reports back) against a real
 * scheduler process, with a baseline measured in the same run: an HTTP round trip to a no-op
 * route (GET /System/Time) over the same client.
 *
 * Many executors live in this one process: one undici Agent for all their requests and one HTTP
 * server whose path names the executor (CommandURL http://127.0.0.N:PORT/exec/<id>, N = 1…16).
 * Loopback only, bounded in count and time.
 *
 *   node --import tsx bench/scheduler.ts [EXECUTORS=1000] [TASKS=2000]
 *   env: BENCH_KEEPALIVE (s, default 5), BENCH_CONCURRENCY (default 32), BENCH_LABEL, BENCH_OUT,
 *        BENCH_STORE=etcd (the scheduler as a replica on a real etcd this bench starts; default SQLite)
 * Writes bench/results/scheduler.json (merged by label and size).
 */
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { Agent, request } from 'undici';
import { spawnSync } from 'node:child_process';
import { digestAuthorization } from '../src/net/digest.ts';
import { startEtcd } from '../test/helpers/etcd.ts';

const EXECUTORS = Number(process.argv[2] ?? 1000);
const TASKS = Number(process.argv[3] ?? 2000);
const KEEPALIVE = Number(process.env.BENCH_KEEPALIVE ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const LABEL = process.env.BENCH_LABEL ?? 'after';
const OUT = process.env.BENCH_OUT ?? path.join(import.meta.dirname, 'results', 'scheduler.json');
const TOKEN = 'bench-token-0123456789abcdef';
const STORE = process.env.BENCH_STORE === 'etcd' ? 'etcd' : 'sqlite';
/**
 * The scheduler runs as its systemd unit runs it: with the unit's NODE_OPTIONS (a 32 MB young
 * generation: at 2,000 subtasks/s the default 16 MB promoted short-lived request objects into the
 * old generation, about a tenth of the scheduler's CPU). BENCH_NODE_OPTIONS='' runs it bare.
 */
const UNIT = path.join(import.meta.dirname, '..', 'packaging', 'systemd', 'retinad-scheduler.service');
const NODE_OPTIONS = process.env.BENCH_NODE_OPTIONS ?? /^Environment=NODE_OPTIONS=(.*)$/m.exec(readFileSync(UNIT, 'utf8'))?.[1] ?? '';
/**
 * The scheduler runs as installed: the compiled dist/ (built here first) on plain Node. From
 * src/ through tsx, esbuild's keepNames wraps every closure made in a hot path in a
 * defineProperty call, which the shipped code does not pay.
 */
if (spawnSync(process.execPath, [path.join(import.meta.dirname, '..', 'scripts', 'build-dist.mjs')], { stdio: 'inherit' }).status !== 0) throw new Error('npm run build failed');
const { startRole } = (await import(path.join(import.meta.dirname, '..', 'dist', 'child-role.js'))) as typeof import('../src/child-role.ts');
const LOOPBACK_HOSTS = 16;
const PHASE_LIMIT_MS = 180_000; // no phase runs longer: a collapsed scheduler still ends the bench

const agent = new Agent({ connections: 128, pipelining: 1, keepAliveTimeout: 30_000 });
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))] ?? NaN; // NaN for no samples
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function call(base: string, method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown, headers: Record<string, string> = {}) {
  const r = await request(base + url, { method, dispatcher: agent, headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body), headersTimeout: 60_000, bodyTimeout: 60_000 });
  const text = await r.body.text();
  return { status: r.statusCode, headers: r.headers, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** CPU time (user + system, all threads) of process `pid` so far, ms. */
function procCpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const [utime = 0, stime = 0] = f.slice(f.lastIndexOf(')') + 2).split(' ').slice(11, 13).map(Number);
  return ((utime + stime) * 1000) / 100; // clock ticks (USER_HZ = 100 on Linux)
}

/** Runs `jobs` with `n` in flight at once. */
async function pool<T>(items: T[], n: number, job: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  // The check and the i++ run with no await between them, so items[i] is in range.
  await Promise.all(Array.from({ length: n }, async () => { while (i < items.length) await job(items[i++]!); }));
}

interface Executor { id: string; session: string }

async function main() {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'retinad-bench-sched-'));
  const logFile = path.join(dataDir, 'scheduler.log');
  const etcd = STORE === 'etcd' ? await startEtcd(path.join(dataDir, 'etcd')) : null;
  const storeArgs = etcd ? ['--store', `etcd://${new URL(etcd.endpoint).host}`, '--results', path.join(dataDir, 'results')] : [];
  const sched = await startRole(['scheduler', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--token', TOKEN, '--keepalive', String(KEEPALIVE), ...storeArgs], { logFile, env: { NODE_OPTIONS } });
  const base = sched.url;
  // A replica serves as leader once elected: its replies carry the term's epoch.
  for (let i = 0; etcd && i < 200; i++) {
    if ((await call(base, 'GET', '/System/Time', undefined, { authorization: `Bearer ${TOKEN}` })).headers['x-retinad-epoch']) break;
    await sleep(100);
  }
  const pid = sched.child.pid!;
  let rssPeak = 0;
  const rssTimer = setInterval(() => {
    try { rssPeak = Math.max(rssPeak, Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024); } catch { /* exited */ }
  }, 500);

  // ---- the executors' shared command server ----------------------------------------------
  const devices = new Map<string, Executor>();
  const dispatchedAt = new Map<string, number>(); // subtask id → when its task_dispatch arrived
  const subtaskOf: string[] = [];
  const commands: Record<string, number> = {};
  const sendReport = (ex: Executor, taskId: string, status: number) =>
    call(base, 'PATCH', '/System/TaskStatus', { DeviceID: ex.id, TaskStatusList: [{ TaskID: taskId, ExecutionStatus: status, Progress: status === 0 ? 100 : 10 }] }, { authorization: `Bearer ${ex.session}` });
  let runningReports = 0;
  const srv = http.createServer((req, res) => {
    const id = decodeURIComponent((req.url ?? '').split('/')[2] ?? '');
    let s = '';
    req.on('data', (c) => (s += c));
    req.on('end', () => {
      const j = JSON.parse(s || '{}') as { CommandType: string; CommandIdx?: number; MessageBody?: { TaskDispatchList?: Array<{ TaskID: string }> } };
      commands[j.CommandType] = (commands[j.CommandType] ?? 0) + 1;
      const reply: Record<string, unknown> = { CommandType: j.CommandType, CommandIdx: j.CommandIdx, StatusCode: '0' };
      if (j.CommandType === 'algorithm_res_query') reply.AlgResourceList = [{ DeviceID: id, AlgInfoList: [{ AlgID: 1001, AlgType: 'frame_extraction', AlgVersion: '1.0.0', AlgStatus: 1 }] }];
      if (j.CommandType === 'task_status_query') reply.TaskStatusSet = [{ DeviceID: id, TaskStatusList: [] }];
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(reply));
      if (j.CommandType === 'task_dispatch') {
        const ex = devices.get(id);
        for (const d of j.MessageBody?.TaskDispatchList ?? []) {
          if (!dispatchedAt.has(d.TaskID)) { dispatchedAt.set(d.TaskID, performance.now()); subtaskOf.push(`${id}\n${d.TaskID}`); }
          // The executor reports the subtask running, as a real one does once it starts.
          if (ex) void sendReport(ex, d.TaskID, 1).then((r) => { if (r.status === 200) runningReports++; }, () => undefined);
        }
      }
    });
  });
  srv.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  // Executors are separate hosts: their CommandURLs name LOOPBACK_HOSTS loopback addresses, not
  // one, so the scheduler's connections per host (32) do not cap the whole fleet's dispatch as
  // one origin would (1,000 executors behind one host:port shared 32 connections).
  const extra = await Promise.all(Array.from({ length: LOOPBACK_HOSTS - 1 }, async (_, i) => {
    const s2 = http.createServer(srv.listeners('request')[0] as http.RequestListener);
    s2.keepAliveTimeout = 30_000;
    await new Promise<void>((r) => s2.listen(port, `127.0.0.${i + 2}`, r));
    return s2;
  }));
  const hostOf = (i: number) => `127.0.0.${1 + (i % LOOPBACK_HOSTS)}`;

  // ---- baseline: a no-op round trip -------------------------------------------------------
  const baseLat: number[] = [];
  const NOOPS = 5000;
  // Warmed first (JIT), then timed; the scheduler's CPU per no-op request is the unit its
  // CPU per subtask is also given in (steadier than either alone on a shared host).
  await pool(Array.from({ length: 1000 }), CONCURRENCY, async () => { await call(base, 'GET', '/System/Time'); });
  const b0 = performance.now();
  const noopCpu0 = procCpuMs(pid);
  await pool(Array.from({ length: NOOPS }), CONCURRENCY, async () => {
    const t = performance.now();
    await call(base, 'GET', '/System/Time');
    baseLat.push(performance.now() - t);
  });
  const baseRps = NOOPS / ((performance.now() - b0) / 1000);
  const noopCpuMs = (procCpuMs(pid) - noopCpu0) / NOOPS;

  // ---- registration (Digest), resource reports, keepalives --------------------------------
  const ids = Array.from({ length: EXECUTORS }, (_, i) => `sim-${String(i).padStart(6, '0')}`);
  const r0 = performance.now();
  let registerFailures = 0;
  await pool(ids, CONCURRENCY, async (id) => {
    const body = { RegisterObject: { DeviceID: id, DeviceType: '1', ProductType: 'sim', CommandURL: `http://${hostOf(Number(id.slice(4)))}:${port}/exec/${id}` } };
    const probe = await call(base, 'POST', '/System/Register', body);
    const challenge = probe.headers['www-authenticate'];
    const auth = challenge ? digestAuthorization(challenge as string | string[], { username: id, password: TOKEN, method: 'POST', uri: '/System/Register' }) : undefined;
    const r = await call(base, 'POST', '/System/Register', body, auth ? { authorization: auth } : {});
    if (r.status !== 200) { registerFailures++; return; }
    const ex = { id, session: String(r.json.SessionToken) };
    devices.set(id, ex);
    const h = { authorization: `Bearer ${ex.session}` };
    await call(base, 'PATCH', '/System/ResourceInfo/TotalResource', { DeviceID: id, DeviceType: '1', ResourceInfo: { IsValid: '1', CommonResource: { TotalMemory: 8 << 30, TotalStorage: 64 << 30, TotalBandwidth: 1000 } } }, h);
    await call(base, 'PATCH', '/System/ResourceInfo/AvailableResource', { DeviceID: id, ResourceInfo: { IsValid: '1', CommonResource: { AvailableMemory: 6 << 30, AvailableCPU: 80 } } }, h);
  });
  const registerPerSec = EXECUTORS / ((performance.now() - r0) / 1000);

  // Keepalives: each executor at the interval, spread evenly over it.
  let keepalives = 0;
  let keepaliveFailures = 0;
  let stop = false;
  const kaTimers: NodeJS.Timeout[] = [];
  [...devices.values()].forEach((ex, i) => {
    const tick = () => {
      if (stop) return;
      call(base, 'POST', '/System/Keepalive', { KeepaliveObject: { DeviceID: ex.id } }, { authorization: `Bearer ${ex.session}` })
        .then((r) => { if (r.status === 200) keepalives++; else keepaliveFailures++; }, () => keepaliveFailures++);
    };
    const first = setTimeout(() => { tick(); kaTimers.push(setInterval(tick, KEEPALIVE * 1000)); }, (i / devices.size) * KEEPALIVE * 1000);
    kaTimers.push(first);
  });
  await sleep(1000); // let the algorithm queries registration started settle

  // ---- TaskRequests -> placed + dispatched ------------------------------------------------
  const sentAt = new Map<string, number>(); // TaskID → when its TaskRequest was sent (1 subtask each)
  let busy503 = 0;
  let refused = 0;
  const t0 = performance.now();
  const cpu0 = procCpuMs(pid);
  const etcdCpu0 = etcd?.pid ? procCpuMs(etcd.pid) : 0;
  const harness0 = process.cpuUsage();
  const deadline = t0 + PHASE_LIMIT_MS;
  await pool(Array.from({ length: TASKS }, (_, i) => i), CONCURRENCY, async (i) => {
    for (;;) {
      if (performance.now() > deadline) return;
      const t = performance.now();
      const r = await call(base, 'POST', '/System/TaskRequest/', { TaskName: `bench-${i}`, TaskType: 1, InitiationInfo: { DeviceID: 'bench', CustomInfo: { Inputs: [{ StreamURL: 'file:///bench/clip.mp4' }], AlgType: 'frame_extraction' } } }, { authorization: `Bearer ${TOKEN}` });
      if (r.status === 503) { busy503++; await sleep(Math.min(200, Number(r.headers['retry-after'] ?? 1) * 1000)); continue; }
      if (r.status === 200) sentAt.set(String(r.json.TaskID), t); else refused++;
      return;
    }
  });
  // Wait for the dispatches still in flight.
  while (dispatchedAt.size < sentAt.size && performance.now() < deadline) await sleep(20);
  const tEnd = Math.max(...[...dispatchedAt.values()], t0 + 1);
  const placed = dispatchedAt.size;
  // CPU time each side spent on the phase (every thread): what one placed subtask costs the
  // scheduler, whatever else shared the cores — the harness here, other work on a busy box.
  const schedCpuMs = procCpuMs(pid) - cpu0;
  // etcd shares the two cores: its CPU for the same subtasks is part of the store's cost.
  const etcdCpuMs = etcd?.pid ? procCpuMs(etcd.pid) - etcdCpu0 : 0;
  const hc = process.cpuUsage(harness0);
  const harnessCpuMs = (hc.user + hc.system) / 1000;
  const placedPerSec = placed / ((tEnd - t0) / 1000);
  // Dispatch latency: TaskRequest sent → task_dispatch arrived at the executor (subtask id = TaskID + suffix).
  const lat: number[] = [];
  for (const [sub, at] of dispatchedAt) {
    const s = sentAt.get(sub.slice(0, sub.lastIndexOf('.')));
    if (s !== undefined) lat.push(at - s);
  }

  // ---- status reports ingested: every subtask reported done -------------------------------
  const s0 = performance.now();
  let reportsOk = 0;
  await pool(subtaskOf, CONCURRENCY, async (k) => {
    const [id = '', sub = ''] = k.split('\n'); // keys are `${DeviceID}\n${subtask}`
    const ex = devices.get(id);
    if (!ex || performance.now() > s0 + PHASE_LIMIT_MS) return;
    const r = await sendReport(ex, sub, 0).catch(() => ({ status: 0 }));
    if (r.status === 200) reportsOk++;
  });
  const reportsPerSec = reportsOk / ((performance.now() - s0) / 1000);

  // ---- liveness: everybody kept sending, so anyone offline was marked wrongly --------------
  await sleep(KEEPALIVE * 1000);
  const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
  const wronglyOffline = new Set([...log.matchAll(/"device":"(sim-\d+)"[^\n]*missed 3 keepalives/g)].map((m) => m[1])).size;
  const list = await call(base, 'GET', '/System/DeviceList', undefined, { authorization: `Bearer ${TOKEN}` });
  const offlineAtEnd = ((list.json.DeviceList as Array<{ Online: boolean }> | undefined) ?? []).filter((d) => !d.Online).length;
  stop = true;
  for (const t of kaTimers) { clearTimeout(t); clearInterval(t); }
  clearInterval(rssTimer);
  rssPeak = Math.max(rssPeak, Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024);
  await sched.stop();
  await etcd?.stop();
  for (const x of [srv, ...extra]) { x.closeAllConnections(); x.close(); }
  await agent.close();

  const r2 = (x: number) => Math.round(x * 100) / 100;
  const result = {
    label: LABEL, store: STORE, executors: EXECUTORS, tasks: TASKS, keepaliveSec: KEEPALIVE, concurrency: CONCURRENCY, date: new Date().toISOString(), cores: os.cpus().length, nodeOptions: NODE_OPTIONS,
    baseline: { noopRps: r2(baseRps), noopP50Ms: r2(pct(baseLat, 50)), noopP99Ms: r2(pct(baseLat, 99)), schedulerCpuMsPerNoop: Math.round(noopCpuMs * 1000) / 1000 },
    registerPerSec: r2(registerPerSec), registerFailures,
    accepted: sentAt.size, refused, busy503, placed,
    placedPerSec: r2(placedPerSec), placedVsNoop: r2(placedPerSec / baseRps),
    schedulerCpuMsPerSubtask: r2(schedCpuMs / Math.max(1, placed)), schedulerCpuVsNoop: r2(schedCpuMs / Math.max(1, placed) / Math.max(0.001, noopCpuMs)), etcdCpuMsPerSubtask: r2(etcdCpuMs / Math.max(1, placed)), harnessCpuMsPerSubtask: r2(harnessCpuMs / Math.max(1, placed)),
    // Subtasks/s the scheduler could place with all cores to itself, at this CPU cost (the harness needs the rest here).
    schedulerCapacityPerSec: Math.round((os.cpus().length * 1000) / Math.max(0.001, schedCpuMs / Math.max(1, placed))),
    dispatchP50Ms: r2(pct(lat, 50)), dispatchP99Ms: r2(pct(lat, 99)), dispatchP50VsNoop: r2(pct(lat, 50) / pct(baseLat, 50)), dispatchP99VsNoop: r2(pct(lat, 99) / pct(baseLat, 99)),
    statusReportsPerSec: r2(reportsPerSec), statusVsNoop: r2(reportsPerSec / baseRps), runningReports,
    keepalives, keepaliveFailures, wronglyOffline, offlineAtEnd,
    commands, rssPeakMB: Math.round(rssPeak / 2 ** 20),
  };
  console.log(JSON.stringify(result, null, 2));
  mkdirSync(path.dirname(OUT), { recursive: true });
  const prev = existsSync(OUT) ? (JSON.parse(readFileSync(OUT, 'utf8')) as Array<typeof result>) : [];
  writeFileSync(OUT, JSON.stringify([...prev.filter((p) => !(p.label === LABEL && (p.store ?? 'sqlite') === STORE && p.executors === EXECUTORS && p.tasks === TASKS)), result], null, 2) + '\n');
}

main().then(() => process.exit(0), (err: unknown) => { console.error(err); process.exit(1); });
