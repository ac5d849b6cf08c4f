/**
 * The executor (clause 7.6): keeps its task table, answers the scheduler's commands, runs tasks
 * through their algorithm, and sends results and status through the persistent outbox.
 */
import Database from 'better-sqlite3';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import {
  CommandType, ExceptionCode, ExecutionStatus, Control, TaskAttr, parseRetinaDateTime,
  type AlgorithmResQuery, type AvailableResQuery, type DeviceType, type OpsControl, type TaskDispatch,
  type TaskDispatchInfo, type TaskOpsControl, type TaskResult, type TaskResultBody, type TaskStatusQuery, type TotalResQuery,
  type CommandHandlers, type CommandReplyBody,
} from '../protocol/index.ts';
import { RetinaClient, joinUrl, baseUrl } from '../net/client.ts';
import { deliveryOutcome, type DeliveryOutcome } from '../net/delivery.ts';
import type { Logger } from '../log.ts';
import { CorrectedClock } from './clock.ts';
import { ExecTask } from './exec-task.ts';
import { Outbox, type OutboxMessage } from './outbox.ts';
import { AlgorithmRegistry, FRAME_EXTRACTION, VIDEO_TRANSCODE } from './algorithms.ts';
import { transcodeOptionsFromArgs } from './media/transcode.ts';
import type { RunContext, Started } from './runners/context.ts';
import { runFrames } from './runners/frames.ts';
import { runPlugin } from './runners/plugin.ts';
import { startTranscode } from './runners/transcode.ts';
import { startDownstream } from './runners/downstream.ts';
import { PluginRegistry } from '../plugins/registry.ts';
import { PluginPool } from '../plugins/pool.ts';
import { Batcher } from '../plugins/batcher.ts';
import { TrustStore } from '../plugins/keys.ts';
import { fetchPackage } from '../plugins/fetch.ts';
import { Ajv } from 'ajv';
import { FeatureIndex } from './feature-index.ts';
import { ResourceMonitor } from './resources.ts';
import { SchedulerSession } from './session.ts';
import { openFrameSource, MediaError, type FrameSource } from './media/frame-source.ts';
import { OptionError } from './media/decoder-options.ts';
import { decoderBackendInfo } from './backend.ts';

export interface ExecutorOptions {
  deviceId: string;
  dataDir: string;
  /** URL other nodes use to reach this executor's `/System/Command`. */
  commandUrl: string;
  schedulerUrl?: string;
  token?: string;
  deviceType?: DeviceType;
  productType?: string;
  longitude?: string;
  latitude?: string;
  /** Tasks running at once; more wait queued (by Priority). */
  maxRunningTasks?: number;
  /** Decoder backend: auto (native when built with FFmpeg), native, pipe. */
  decoder?: 'auto' | 'native' | 'pipe';
  /** Directory of trusted publisher keys (*.pub); default <data-dir>/trusted-keys. */
  trustedKeysDir?: string;
  /** Accept unsigned or unknown-key packages (development only). */
  pluginDevMode?: boolean;
  /** Plugin worker threads and ONNX intra-op threads per worker. */
  pluginWorkers?: number;
  pluginThreads?: number;
  /** Dynamic batching across streams: most frames per inference (1 = off) and longest wait, ms. */
  pluginMaxBatch?: number;
  pluginBatchDelayMs?: number;
  log: Logger;
}

const SUPPORTED_SCHEMES = /^(file|rtsp|rtsps|rtmp|http|https):/i;
/** AlgArgs the host consumes itself: StartOffsetMs (where to start reading, set on a resume), Stage (detect/recognize in a topology), ReplayFromMs (a re-point's replay). */
const HOST_ALG_ARGS = new Set(['StartOffsetMs', 'Stage', 'ReplayFromMs']);

export class Executor {
  readonly clock = new CorrectedClock();
  readonly client: RetinaClient;
  readonly algorithms = new AlgorithmRegistry();
  readonly monitor: ResourceMonitor;
  readonly session?: SchedulerSession;
  private readonly db: Database.Database;
  private readonly outbox: Outbox;
  private readonly tasks = new Map<string, ExecTask>();
  private readonly sources = new Map<string, FrameSource>();
  /** Downstream stages waiting for upstream results, by their TaskID. */
  private readonly inboxes = new Map<string, (b: TaskResultBody) => void>();
  private readonly timers = new Map<string, NodeJS.Timeout[]>();
  private taskSeq = 0;
  private pool: PluginPool | null = null;
  private batcher: Batcher | null = null;
  readonly plugins: PluginRegistry;
  /** ED2: features other executors send here, searchable. */
  readonly features = new FeatureIndex();
  /** Package downloads in progress, by AlgID@AlgVersion. */
  private readonly fetching = new Map<string, Promise<string | null>>();
  private readonly argsValidators = new Map<string, ReturnType<Ajv['compile']>>();
  private readonly instanceId: string;
  private closed = false;

  constructor(readonly o: ExecutorOptions) {
    mkdirSync(o.dataDir, { recursive: true });
    this.instanceId = loadInstanceId(o.dataDir);
    this.db = new Database(path.join(o.dataDir, 'executor.db'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS tasks (task_id TEXT PRIMARY KEY, dispatch TEXT NOT NULL, status INTEGER NOT NULL,
      exception_code INTEGER, exception_desc TEXT, updated_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS received_results (id INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT, sender TEXT, body TEXT, at INTEGER);`);
    this.client = new RetinaClient({ token: o.token, senderId: `${o.deviceId}/${this.instanceId}` });
    this.monitor = new ResourceMonitor({
      deviceId: o.deviceId, deviceType: o.deviceType ?? '1', productType: o.productType ?? 'retinad-executor', dataDir: o.dataDir,
      // Installed algorithms in TotalResource too, so a resource query alone shows what this box can run.
      extendInfo: () => ({
        DecoderBackend: decoderBackendInfo(),
        Algorithms: [...this.algorithms.list().map((a) => `${a.AlgID}:${a.AlgType}@${a.AlgVersion}`),
          ...this.plugins.entries().map((e) => `${e.AlgID}:${e.AlgType}@${e.AlgVersion}${e.status === 'invalid' ? ' (invalid)' : ''}`)],
      }),
      log: o.log,
    });
    this.algorithms.add({ ...FRAME_EXTRACTION, installedAt: this.clock.nowDateTime() });
    this.algorithms.add({ ...VIDEO_TRANSCODE, installedAt: this.clock.nowDateTime() });
    // Results a next stage on another executor acknowledged are kept for a replay if it moves.
    this.outbox = new Outbox(this.db, (dest, seq, msg) => this.deliver(dest, seq, msg), o.log, (dest, task) => this.feedsNextStage(dest, task));
    const trust = TrustStore.fromDir(o.trustedKeysDir ?? path.join(o.dataDir, 'trusted-keys'));
    this.plugins = new PluginRegistry(o.dataDir, trust, { call: (p, c) => this.pluginPool().call(p, c) }, { devMode: o.pluginDevMode });
    if (o.pluginDevMode) o.log.warn('plugin dev mode: unsigned and unknown-key packages are accepted');
    if (o.schedulerUrl) {
      this.session = new SchedulerSession({
        schedulerUrl: o.schedulerUrl, deviceId: o.deviceId, deviceType: o.deviceType ?? '1', productType: o.productType ?? 'retinad-executor',
        commandUrl: o.commandUrl, token: o.token, client: this.client, clock: this.clock, monitor: this.monitor, log: o.log,
        longitude: o.longitude, latitude: o.latitude,
      });
    }
    this.restoreTasks();
    for (const r of this.db.prepare('SELECT body FROM received_results ORDER BY id').iterate() as Iterable<{ body: string }>) this.indexFeatures(JSON.parse(r.body) as TaskResultBody);
  }

  /** Starts the outbox and the scheduler session (returns once registered or stopped). */
  async start(): Promise<void> {
    this.outbox.start();
    await this.session?.start();
  }

  /** Stops tasks, logs out and closes storage. Results already queued stay on disk for the next start. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.sources.values()) s.close();
    for (const ts of this.timers.values()) ts.forEach(clearTimeout);
    await this.session?.stop();
    this.outbox.close();
    await this.pool?.close();
    await this.client.close();
    this.db.close();
  }

  /** What the task runners see of this executor. */
  private readonly ctx: RunContext = (() => {
    const self = this;
    return {
      get deviceId() { return self.o.deviceId; },
      get schedulerUrl() { return self.o.schedulerUrl; },
      get longitude() { return self.o.longitude; },
      get latitude() { return self.o.latitude; },
      get decoder() { return self.o.decoder; },
      get clock() { return self.clock; },
      get log() { return self.o.log; },
      get outbox() { return self.outbox; },
      get closed() { return self.closed; },
      destinations: (info: TaskDispatchInfo) => self.destinations(info),
      changed: (t: ExecTask) => self.changed(t),
      pluginPool: () => self.pluginPool(),
      pluginBatcher: () => self.pluginBatcher(),
    };
  })();

  /** The sandbox pool, started on first use. */
  pluginPool(): PluginPool {
    this.pool ??= new PluginPool({ workers: this.o.pluginWorkers, intraOpThreads: this.o.pluginThreads });
    return this.pool;
  }

  /** Frame-stage calls go through the batcher: streams running the same model share inferences. */
  pluginBatcher(): Batcher {
    // Off by default: on CPU a batch costs what its frames cost one by one (bench/results/plugins.md);
    // it pays on accelerators. --plugin-max-batch turns it on.
    this.batcher ??= new Batcher(this.pluginPool(), { maxBatch: this.o.pluginMaxBatch ?? 1, maxDelayMs: this.o.pluginBatchDelayMs ?? 5 });
    return this.batcher;
  }

  private inUse = (id: number, v: string) => [...this.tasks.values()].some((t) => !t.finished && t.info.AlgModelInfo.AlgID === id && t.info.AlgModelInfo.AlgVersion === v);

  // ---- commands (clause 9) -------------------------------------------------------------

  /** Handlers for `POST /System/Command`. */
  handlers(): CommandHandlers {
    return {
      [CommandType.TotalResQuery]: (c) => this.onTotalResQuery(c),
      [CommandType.AvailableResQuery]: (c) => this.onAvailableResQuery(c),
      [CommandType.AlgorithmResQuery]: (c) => this.onAlgorithmResQuery(c),
      [CommandType.TaskDispatch]: (c) => this.onTaskDispatch(c),
      [CommandType.TaskOpsControl]: (c) => this.onTaskOpsControl(c),
      [CommandType.TaskStatusQuery]: (c) => this.onTaskStatusQuery(c),
      [CommandType.TaskResult]: (c, ctx) => this.onTaskResult(c, ctx.sender),
    };
  }

  /** True when a DeviceList filter (absent = everyone) names this executor. */
  private selected(list?: Array<{ DeviceID: string }>): boolean {
    return !list || list.length === 0 || list.some((d) => d.DeviceID === this.o.deviceId);
  }

  private async onTotalResQuery(c: TotalResQuery): Promise<CommandReplyBody> {
    const body = c.MessageBody;
    if (!this.selected(body.DeviceList)) return { StatusCode: '0', TotalResourceList: [] };
    const total = await this.monitor.total();
    const cr = total.ResourceInfo.ComputeResource;
    const match = (!body.ProductType || body.ProductType === total.ProductType) && (!body.Chip || (cr?.Chip ?? '').includes(body.Chip)) &&
      (!body.DriverVersion || body.DriverVersion === cr?.DriverVersion);
    return { StatusCode: '0', TotalResourceList: match ? [total] : [] };
  }

  private async onAvailableResQuery(c: AvailableResQuery): Promise<CommandReplyBody> {
    if (!this.selected(c.MessageBody.DeviceList)) return { StatusCode: '0', AvailableResourceList: [] };
    return { StatusCode: '0', AvailableResourceList: [await this.monitor.available()] };
  }

  private async onAlgorithmResQuery(c: AlgorithmResQuery): Promise<CommandReplyBody> {
    if (!this.selected(c.MessageBody.DeviceList)) return { StatusCode: '0', AlgResourceList: [] };
    const inUse = (id: number, v: string) => [...this.tasks.values()].some((t) => !t.finished && t.info.AlgModelInfo.AlgID === id && t.info.AlgModelInfo.AlgVersion === v);
    return { StatusCode: '0', AlgResourceList: [{ DeviceID: this.o.deviceId, AlgInfoList: [...this.algorithms.algInfoList(inUse), ...this.plugins.algInfoList(this.inUse)] }] };
  }

  /** EB2: why this executor cannot run `t`, or null when it can. */
  checkExecutable(t: TaskDispatchInfo): string | null {
    const alg = this.algorithms.find(t.AlgModelInfo.AlgID, t.AlgModelInfo.AlgVersion);
    if (!alg && this.plugins.has(t.AlgModelInfo.AlgID, t.AlgModelInfo.AlgVersion)) return this.checkPluginTask(t);
    if (!alg) {
      const have = this.algorithms.list().map((a) => `${a.AlgID}@${a.AlgVersion}`).join(', ');
      return `AlgModelInfo: AlgID ${t.AlgModelInfo.AlgID} version "${t.AlgModelInfo.AlgVersion}" is not installed here (installed: ${have})`;
    }
    const url = t.InputInfo.StreamURL;
    if (!url) return `InputInfo.StreamURL: is required for ${alg.AlgType}`;
    if (alg.kind === 'transcode') {
      try {
        transcodeOptionsFromArgs(url, t.InputInfo.AlgArgs ?? {});
      } catch (err) {
        return (err as Error).message;
      }
    }
    if (!SUPPORTED_SCHEMES.test(url)) return `InputInfo.StreamURL: scheme of "${url.slice(0, 64)}" is not supported (file, rtsp, rtsps, rtmp, http, https)`;
    const existing = this.tasks.get(t.TaskID);
    if (existing && !existing.finished) return `TaskID: task "${t.TaskID}" already exists here with other work (algorithm, input or dependencies) and is not finished`;
    for (const w of t.ExecutionCond?.TimeRange ?? []) {
      const s = w.StartTime ? parseRetinaDateTime(w.StartTime) : -Infinity;
      const e = w.EndTime ? parseRetinaDateTime(w.EndTime) : Infinity;
      if (e <= s) return 'ExecutionCond.TimeRange: EndTime must be after StartTime';
    }
    return null;
  }

  /** EB2 for a plugin task: valid version, a source, AlgArgs that match the plugin's schema. */
  private checkPluginTask(t: TaskDispatchInfo): string | null {
    const { AlgID, AlgVersion } = t.AlgModelInfo;
    const bad = this.plugins.problem(AlgID, AlgVersion);
    if (bad) return `AlgModelInfo: ${bad}`;
    const p = this.plugins.get(AlgID, AlgVersion);
    if (!p) return `AlgModelInfo: AlgID ${AlgID} version "${AlgVersion}" is not usable here`;
    const downstream = !t.InputInfo.StreamURL && (t.Dependencies?.length ?? 0) > 0;
    if (!t.InputInfo.StreamURL && !downstream) return 'InputInfo.StreamURL: is required (or Dependencies, for a stage that works on another task\'s results)';
    if (downstream && !p.manifest.cropStage) return `Dependencies: ${p.manifest.AlgType} has no crop stage to run on upstream results`;
    if (t.InputInfo.StreamURL && !SUPPORTED_SCHEMES.test(t.InputInfo.StreamURL)) return `InputInfo.StreamURL: scheme of "${t.InputInfo.StreamURL.slice(0, 64)}" is not supported`;
    const schema = p.manifest.algArgsSchema;
    if (schema) {
      const key = `${AlgID}@${AlgVersion}`;
      let v = this.argsValidators.get(key);
      if (!v) {
        v = new Ajv({ allErrors: true, strict: false }).compile(schema);
        this.argsValidators.set(key, v);
      }
      // The host's own arguments (a resume offset, a topology stage) are not the plugin's to accept.
      const own = Object.fromEntries(Object.entries(t.InputInfo.AlgArgs ?? {}).filter(([k]) => !HOST_ALG_ARGS.has(k)));
      if (!v(own)) return `InputInfo.AlgArgs: ${(v.errors ?? []).map((e) => `${e.instancePath || '(args)'} ${e.message}`).join('; ')}`;
    }
    const existing = this.tasks.get(t.TaskID);
    if (existing && !existing.finished) return `TaskID: task "${t.TaskID}" already exists here with other work (algorithm, input or dependencies) and is not finished`;
    return null;
  }

  /** Installs packages a dispatch names by AlgFileURL but this executor lacks (download, verify, trial-run). */
  private async fetchMissing(list: TaskDispatchInfo[]): Promise<string | null> {
    for (const t of list) {
      const { AlgID, AlgVersion, AlgFileURL } = t.AlgModelInfo;
      if (this.algorithms.find(AlgID, AlgVersion) || this.plugins.has(AlgID, AlgVersion) || !AlgFileURL) continue;
      // A second dispatch naming the same package while it downloads waits for that download.
      const key = `${AlgID}@${AlgVersion}`;
      let job = this.fetching.get(key);
      if (!job) {
        job = this.fetchOne(AlgID, AlgVersion, AlgFileURL).finally(() => this.fetching.delete(key));
        this.fetching.set(key, job);
      }
      const problem = await job;
      if (problem) return problem;
    }
    return null;
  }

  private async fetchOne(AlgID: number, AlgVersion: string, AlgFileURL: string): Promise<string | null> {
    try {
      const pkg = await fetchPackage(AlgFileURL, this.client);
      const r = await this.plugins.install(pkg);
      if (r.AlgID !== AlgID || r.AlgVersion !== AlgVersion) return `AlgModelInfo.AlgFileURL: package is AlgID ${r.AlgID} version ${r.AlgVersion}, not ${AlgID} ${AlgVersion}`;
      if (r.status !== 'valid') return `AlgModelInfo.AlgFileURL: package failed its trial run: ${r.error}`;
      this.o.log.info({ AlgID, AlgVersion, from: AlgFileURL }, 'algorithm package installed from AlgFileURL');
      void this.session?.reportTotal?.();
      return null;
    } catch (err) {
      return `AlgModelInfo.AlgFileURL: ${(err as Error).message}`;
    }
  }

  private async onTaskDispatch(c: TaskDispatch): Promise<CommandReplyBody> {
    if (c.DeviceID !== this.o.deviceId) return { StatusCode: '1', Message: `DeviceID: this executor is "${this.o.deviceId}", not "${c.DeviceID}"` };
    const list = c.MessageBody.TaskDispatchList;
    const fetchProblem = await this.fetchMissing(list);
    if (fetchProblem) return { StatusCode: '1', Message: fetchProblem };
    const ids = new Set<string>();
    const redirects: Array<[ExecTask, TaskDispatchInfo]> = [];
    for (const t of list) {
      if (ids.has(t.TaskID)) return { StatusCode: '1', Message: `TaskDispatchList: TaskID "${t.TaskID}" appears twice` };
      ids.add(t.TaskID);
      const existing = this.tasks.get(t.TaskID);
      // The same work again: the scheduler moved the next stage (new destinations), or placed the
      // task back here after it thought this executor lost (same destinations; it keeps running).
      // A finished task is re-pointed only to replay its results (ReplayFromMs), never re-run.
      const replayOnly = !!existing?.finished && existing.status === ExecutionStatus.Done && typeof t.InputInfo.AlgArgs?.ReplayFromMs === 'number';
      if (existing && (!existing.finished || replayOnly) && sameWork(existing.info, t)) { redirects.push([existing, t]); continue; }
      const why = this.checkExecutable(t);
      if (why) return { StatusCode: '1', Message: `task ${t.TaskID}: ${why}` };
    }
    // All or nothing: every task of the command was checked before any is accepted.
    for (const [task, info] of redirects) this.redirect(task, info);
    // A finished stage answers once what it sent again is delivered: the scheduler then tells
    // the moved next stage to finish, and that must not overtake the replay.
    for (const [task] of redirects) if (task.finished) await this.outbox.flush(task.id, 30_000);
    for (const info of list) {
      if (redirects.some(([task]) => task.id === info.TaskID)) continue;
      const task = new ExecTask(info, ++this.taskSeq);
      this.tasks.set(info.TaskID, task);
      this.persist(task);
      this.report(task);
    }
    this.o.log.info({ tasks: [...ids] }, 'task_dispatch accepted');
    this.scheduleQueue();
    return { StatusCode: '0' };
  }

  /**
   * The same task dispatched again with other destinations: the scheduler moved the stage that
   * consumes its results. The task keeps running; what it sends from now on, and what is still
   * queued for the old destination, goes to the new one.
   */
  private redirect(t: ExecTask, info: TaskDispatchInfo): void {
    const before = this.destinations(t.info);
    const same = sameDestinations(t.info, info);
    // What the old next stage acknowledged but never passed on goes again first (the scheduler
    // says from which frame: after the last result it stored from that stage), then what was queued.
    const from = info.InputInfo.AlgArgs?.ReplayFromMs;
    if (same && typeof from !== 'number') {
      this.o.log.info({ task: t.id }, 'task dispatched again while it runs here: kept running');
      this.report(t);
      return;
    }
    if (!same) t.info = { ...t.info, DstDeviceList: info.DstDeviceList };
    const after = this.destinations(t.info);
    const replayed = typeof from === 'number' ? this.outbox.replay(t.id, after.filter((d) => d !== this.o.schedulerUrl), from) : 0;
    const moved = same ? 0 : this.outbox.retarget(t.id, before, after);
    this.persist(t);
    this.o.log.info({ task: t.id, to: info.DstDeviceList.map((d) => d.DeviceID), moved, replayed }, 'task re-pointed to new destinations');
  }

  private async onTaskOpsControl(c: TaskOpsControl): Promise<CommandReplyBody> {
    const problems: string[] = [];
    for (const op of c.MessageBody.OpsControlList) {
      if (op.DeviceID && op.DeviceID !== this.o.deviceId) continue;
      const why = this.applyControl(op);
      if (why) problems.push(`task ${op.TaskID}: ${why}`);
    }
    return problems.length ? { StatusCode: '1', Message: problems.join('; ') } : { StatusCode: '0' };
  }

  /** Applies one OpsControl; returns why it could not, or null. */
  private applyControl(op: OpsControl): string | null {
    const t = this.tasks.get(op.TaskID);
    if (!t) return 'TaskID: no such task on this executor';
    switch (op.Control) {
      case Control.Start:
        if (t.status === ExecutionStatus.Running || t.status === ExecutionStatus.Queued) return null;
        if (t.status === ExecutionStatus.Paused) return this.applyControl({ ...op, Control: Control.Resume });
        t.transition(ExecutionStatus.Queued);
        this.changed(t);
        this.scheduleQueue();
        return null;
      case Control.Stop:
        if (t.finished) return null;
        if (this.inboxes.has(t.id)) {
          // A downstream stage finishes what it has received, then reports done itself.
          this.sources.get(t.id)?.close();
          return null;
        }
        this.halt(t);
        t.transition(ExecutionStatus.Done);
        t.exceptionDesc = 'stopped by task_ops_control';
        this.changed(t);
        this.scheduleQueue();
        return null;
      case Control.Pause:
        if (t.status !== ExecutionStatus.Running) return `Control: only a running task can be paused (ExecutionStatus is ${t.status})`;
        t.transition(ExecutionStatus.Paused);
        this.changed(t);
        return null;
      case Control.Resume:
        if (t.status !== ExecutionStatus.Paused) return `Control: only a paused task can be resumed (ExecutionStatus is ${t.status})`;
        t.transition(ExecutionStatus.Running);
        this.changed(t);
        return null;
      case Control.UpdateArgs:
        if (!op.AlgArgs) return 'AlgArgs: is required with Control 4';
        t.algArgs = { ...t.algArgs, ...op.AlgArgs };
        this.persist(t);
        return null;
      default:
        return `Control: ${String(op.Control)} is not one of 0-4`;
    }
  }

  private async onTaskStatusQuery(c: TaskStatusQuery): Promise<CommandReplyBody> {
    const list = c.MessageBody.DeviceList;
    if (list && list.length && !list.some((d) => d.DeviceID === this.o.deviceId)) return { StatusCode: '0', TaskStatusSet: [] };
    const mine = list?.find((d) => d.DeviceID === this.o.deviceId);
    const wanted = mine?.TaskIDList && mine.TaskIDList.length ? new Set(mine.TaskIDList) : null;
    const statuses = [...this.tasks.values()].filter((t) => !wanted || wanted.has(t.id)).map((t) => t.toStatus());
    return { StatusCode: '0', TaskStatusSet: [{ DeviceID: this.o.deviceId, TaskStatusList: statuses }] };
  }

  /** ED2: results other executors send here are kept, and their features indexed for retrieval. */
  private async onTaskResult(c: TaskResult, sender: string): Promise<CommandReplyBody> {
    this.db.prepare('INSERT INTO received_results (task_id, sender, body, at) VALUES (?, ?, ?, ?)').run(c.MessageBody.TaskID, sender, JSON.stringify(c.MessageBody), Date.now());
    this.indexFeatures(c.MessageBody);
    // Results of an upstream stage feed the downstream tasks that depend on it.
    for (const t of this.tasks.values()) {
      if (!t.finished && t.info.Dependencies?.some((d) => d.TaskID === c.MessageBody.TaskID)) this.inboxes.get(t.id)?.(structuredClone(c.MessageBody));
    }
    return { StatusCode: '0' };
  }

  private indexFeatures(b: TaskResultBody): void {
    for (const a of b.TaskResultData.AnalysisResult ?? []) {
      const v = (a.FeatureInfo as { Vector?: unknown } | undefined)?.Vector;
      if (v !== undefined) this.features.add(b.ParentTaskID ?? b.TaskID, v, { TaskID: b.TaskID, DeviceID: b.DeviceID, Ts: b.Ts, Pts: (a.ResultData as { Pts?: number } | undefined)?.Pts });
    }
  }

  // ---- task life cycle -----------------------------------------------------------------

  /** Snapshot of a task's status (tests and the CLI read it). */
  taskStatus(id: string) {
    return this.tasks.get(id)?.toStatus();
  }

  private runningCount(): number {
    let n = 0;
    for (const t of this.tasks.values()) if (t.status === ExecutionStatus.Running || t.status === ExecutionStatus.Paused) n++;
    return n;
  }

  /** Starts queued tasks while there is room: higher Priority first, then arrival (B2, SB3). */
  private scheduleQueue(): void {
    if (this.closed) return;
    const max = this.o.maxRunningTasks ?? 8;
    const queued = [...this.tasks.values()]
      .filter((t) => t.status === ExecutionStatus.Queued && !this.timers.has(t.id))
      .sort((a, b) => b.priority - a.priority || a.seq - b.seq);
    for (const t of queued) {
      if (this.runningCount() >= max) break;
      const delay = this.startDelay(t);
      if (delay === null) {
        t.transition(ExecutionStatus.Done);
        t.exceptionDesc = 'time window already over';
        this.changed(t);
        continue;
      }
      if (delay > 0) {
        this.addTimer(t.id, setTimeout(() => { this.timers.delete(t.id); this.scheduleQueue(); }, delay));
        continue;
      }
      this.run(t);
    }
  }

  /** ms until the task's time window opens; 0 now; null when every window is past. */
  private startDelay(t: ExecTask): number | null {
    const windows = t.info.TaskAttr === TaskAttr.TimeWindow ? t.info.ExecutionCond?.TimeRange ?? [] : [];
    if (!windows.length) return 0;
    const now = this.clock.now();
    let best: number | null = null;
    for (const w of windows) {
      const s = w.StartTime ? parseRetinaDateTime(w.StartTime) : -Infinity;
      const e = w.EndTime ? parseRetinaDateTime(w.EndTime) : Infinity;
      if (e <= now) continue;
      const d = Math.max(0, s - now);
      best = best === null ? d : Math.min(best, d);
    }
    return best;
  }

  private addTimer(id: string, t: NodeJS.Timeout): void {
    t.unref();
    const list = this.timers.get(id) ?? [];
    list.push(t);
    this.timers.set(id, list);
  }

  /** Runs frame extraction for `t` (the only built-in algorithm so far): pull frames, JPEG them, queue results. */
  private run(t: ExecTask): void {
    t.transition(ExecutionStatus.Running);
    this.changed(t);
    const builtin = this.algorithms.find(t.info.AlgModelInfo.AlgID, t.info.AlgModelInfo.AlgVersion);
    const plugin = builtin ? undefined : this.plugins.get(t.info.AlgModelInfo.AlgID, t.info.AlgModelInfo.AlgVersion);
    if (builtin?.kind === 'transcode' || (plugin && !t.info.InputInfo.StreamURL && t.info.Dependencies?.length)) {
      let started: Started & { inbox?: (b: TaskResultBody) => void };
      try {
        started = builtin ? startTranscode(this.ctx, t) : startDownstream(this.ctx, t, plugin!);
      } catch (err) {
        this.finish(t, err as Error);
        return;
      }
      this.sources.set(t.id, started.handle);
      if (started.inbox) this.inboxes.set(t.id, started.inbox);
      const end = (err: Error | null) => { this.inboxes.delete(t.id); this.finish(t, err, started.handle); };
      void started.done.then(() => end(null), (err: Error) => end(err));
      return;
    }
    const fps = t.info.InputInfo.TaskFrameRate ?? 1;
    const startMs = typeof t.algArgs.StartOffsetMs === 'number' && t.algArgs.StartOffsetMs > 0 ? t.algArgs.StartOffsetMs : 0;
    let source: FrameSource;
    try {
      source = openFrameSource({ url: t.info.InputInfo.StreamURL!, fps, startMs, readTimeoutMs: 30_000 }, this.o.decoder ?? 'auto');
    } catch (err) {
      this.finish(t, err as Error);
      return;
    }
    this.sources.set(t.id, source);
    // Stop at the end of the time window, if any.
    const end = (t.info.ExecutionCond?.TimeRange ?? []).map((w) => (w.EndTime ? parseRetinaDateTime(w.EndTime) : Infinity)).filter((e) => e > this.clock.now());
    if (t.info.TaskAttr === TaskAttr.TimeWindow && end.length && Number.isFinite(Math.min(...end))) {
      this.addTimer(t.id, setTimeout(() => source.close(), Math.min(...end) - this.clock.now()));
    }
    const loop = plugin ? runPlugin(this.ctx, t, source, plugin) : runFrames(this.ctx, t, source);
    void loop.then(() => this.finish(t, null, source), (err: Error) => this.finish(t, err, source));
  }

  private finish(t: ExecTask, err: Error | null, source?: FrameSource): void {
    // A loop that ends after its task was stopped and started again must not end the new run.
    if (source && this.sources.get(t.id) !== source) { source.close(); return; }
    this.sources.get(t.id)?.close();
    this.sources.delete(t.id);
    for (const tm of this.timers.get(t.id) ?? []) clearTimeout(tm);
    this.timers.delete(t.id);
    if (t.finished) return; // stopped by command
    if (err) {
      const code = err instanceof MediaError ? err.exceptionCode : err instanceof OptionError ? ExceptionCode.DataSourceError : ExceptionCode.RunError;
      t.transition(ExecutionStatus.Error, { code, desc: err.message });
      this.o.log.warn({ task: t.id, err: err.message }, 'task failed');
    } else {
      if (!t.info.InputInfo.StreamURL && t.framesIn === 0) {
        t.transition(ExecutionStatus.Done); // a downstream stage whose upstream found nothing to pass on
      } else if (t.framesOut === 0 && t.framesIn > 0) {
        t.transition(ExecutionStatus.Error, { code: ExceptionCode.RunError, desc: `every one of ${t.framesIn} frames failed in the algorithm: ${t.exceptionDesc ?? ''}`.slice(0, 500) });
      } else if (t.framesOut === 0) {
        t.transition(ExecutionStatus.Error, { code: ExceptionCode.DataSourceError, desc: `source ${t.info.InputInfo.StreamURL} produced no video frame` });
      } else {
        t.transition(ExecutionStatus.Done);
      }
      this.o.log.info({ task: t.id, frames: t.framesOut }, 'task finished');
    }
    this.changed(t);
    this.scheduleQueue();
  }

  private halt(t: ExecTask): void {
    this.sources.get(t.id)?.close();
    this.sources.delete(t.id);
    for (const tm of this.timers.get(t.id) ?? []) clearTimeout(tm);
    this.timers.delete(t.id);
  }

  /** True when task `taskId` sends to `dest` as to another executor running a next stage, not the scheduler (only those results are kept for a replay). */
  private feedsNextStage(dest: string, taskId: string): boolean {
    if (dest === this.o.schedulerUrl) return false;
    const scheduler = this.session?.schedulerId;
    const d = this.tasks.get(taskId)?.info.DstDeviceList.find((x) => x.OutputURL && baseUrl(x.OutputURL) === dest);
    return !!d && d.DeviceID !== undefined && d.DeviceID !== scheduler;
  }

  /** Base URLs results go to: each DstDevice's OutputURL, else the scheduler. */
  private destinations(info: TaskDispatchInfo): string[] {
    const out = new Set<string>();
    for (const d of info.DstDeviceList) {
      if (d.OutputURL) out.add(baseUrl(d.OutputURL));
      else if (this.o.schedulerUrl) out.add(this.o.schedulerUrl);
    }
    if (!out.size && this.o.schedulerUrl) out.add(this.o.schedulerUrl);
    return [...out];
  }

  /** Persists the task and queues a status report (EM4) behind its results, so order holds. */
  private changed(t: ExecTask): void {
    this.persist(t);
    this.report(t);
  }

  private report(t: ExecTask): void {
    if (!this.o.schedulerUrl || this.closed) return;
    this.outbox.enqueue([this.o.schedulerUrl], t.id, {
      method: 'PATCH', path: '/System/TaskStatus/', body: { DeviceID: this.o.deviceId, TaskStatusList: [t.toStatus()] },
    });
  }

  private persist(t: ExecTask): void {
    if (this.closed) return;
    this.db.prepare(`INSERT INTO tasks (task_id, dispatch, status, exception_code, exception_desc, updated_at) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT(task_id) DO UPDATE SET dispatch = excluded.dispatch, status = excluded.status, exception_code = excluded.exception_code,
      exception_desc = excluded.exception_desc, updated_at = excluded.updated_at`)
      .run(t.id, JSON.stringify({ ...t.info, InputInfo: { ...t.info.InputInfo, AlgArgs: t.algArgs } }), t.status, t.exceptionCode ?? null, t.exceptionDesc ?? null, Date.now());
  }

  /** EB6/EM5: after a restart, tasks that were running are reported as interrupted (the scheduler may retry them). */
  private restoreTasks(): void {
    const rows = this.db.prepare('SELECT * FROM tasks ORDER BY updated_at').all() as Array<{ task_id: string; dispatch: string; status: number; exception_code: number | null; exception_desc: string | null }>;
    for (const r of rows) {
      const task = new ExecTask(JSON.parse(r.dispatch) as TaskDispatchInfo, ++this.taskSeq);
      task.status = r.status as ExecutionStatus;
      if (r.exception_code !== null) task.exceptionCode = r.exception_code;
      if (r.exception_desc) task.exceptionDesc = r.exception_desc;
      if (!task.finished) {
        task.status = ExecutionStatus.Error;
        task.exceptionCode = ExceptionCode.RunError;
        task.exceptionDesc = 'interrupted: the executor restarted';
        this.changed(task);
      }
      this.tasks.set(task.id, task);
    }
  }

  // ---- delivery ------------------------------------------------------------------------

  private async deliver(dest: string, seq: number, msg: OutboxMessage): Promise<DeliveryOutcome> {
    const body = msg.path === '/System/Command' ? { ...msg.body, CommandIdx: seq } : msg.body;
    // The scheduler knows our session token; another executor knows only the node token.
    const auth = dest !== this.o.schedulerUrl && this.o.token ? { authorization: `Bearer ${this.o.token}` } : undefined;
    const r = await this.client.send(msg.method, joinUrl(dest, msg.path), body, auth);
    if (r.status === 401 && this.session) void this.session.ensureRegistered();
    return deliveryOutcome(r);
  }
}

/** Same algorithm, input and dependencies: a dispatch of a running task that asks for nothing new but, maybe, destinations. */
function sameWork(a: TaskDispatchInfo, b: TaskDispatchInfo): boolean {
  return a.AlgModelInfo.AlgID === b.AlgModelInfo.AlgID && a.AlgModelInfo.AlgVersion === b.AlgModelInfo.AlgVersion &&
    (a.InputInfo.StreamURL ?? '') === (b.InputInfo.StreamURL ?? '') &&
    JSON.stringify(a.Dependencies ?? []) === JSON.stringify(b.Dependencies ?? []);
}

function sameDestinations(a: TaskDispatchInfo, b: TaskDispatchInfo): boolean {
  const dst = (x: TaskDispatchInfo) => JSON.stringify(x.DstDeviceList.map((d) => [d.DeviceID ?? '', d.OutputURL ?? '']));
  return dst(a) === dst(b);
}

/** A random ID made once per data directory: with CommandIdx it keeps our commands unique across restarts. */
function loadInstanceId(dir: string): string {
  const f = path.join(dir, 'instance-id');
  if (existsSync(f)) return readFileSync(f, 'utf8').trim();
  const id = randomUUID().slice(0, 8);
  writeFileSync(f, id);
  return id;
}
