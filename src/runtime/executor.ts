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
} from '../protocol/index.ts';
import { RetinaClient, joinUrl } from '../api/client.ts';
import type { CommandHandlers, CommandReplyBody } from '../api/command-route.ts';
import type { Logger } from '../log.ts';
import { CorrectedClock } from './clock.ts';
import { ExecTask } from './exec-task.ts';
import { Outbox, type OutboxMessage } from './outbox.ts';
import { AlgorithmRegistry, FRAME_EXTRACTION, VIDEO_TRANSCODE } from './algorithms.ts';
import { openTranscoder, transcodeOptionsFromArgs, type SliceSource } from './media/transcode.ts';
import { PluginRegistry, type LoadedPlugin } from '../plugins/registry.ts';
import { PluginPool, PluginCallError } from '../plugins/pool.ts';
import { Batcher } from '../plugins/batcher.ts';
import { TrustStore } from '../plugins/keys.ts';
import { fetchPackage } from '../plugins/fetch.ts';
import { Ajv } from 'ajv';
import { FeatureIndex } from './feature-index.ts';
import { ResourceMonitor } from './resources.ts';
import { SchedulerSession } from './session.ts';
import { openFrameSource, MediaError, type FrameSource, type SourceFrame } from './media/frame-source.ts';
import { nativeDecoding } from './media/native.ts';
import { checkPreprocessSpec } from './media/preprocess-spec.ts';
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
/** Pause a task's source when this many of its results wait in the outbox. */
const OUTBOX_HIGH_WATER = 256;

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
    this.outbox = new Outbox(this.db, (dest, seq, msg) => this.deliver(dest, seq, msg), o.log);
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

  /** The sandbox pool, started on first use. */
  pluginPool(): PluginPool {
    this.pool ??= new PluginPool({ workers: this.o.pluginWorkers, intraOpThreads: this.o.pluginThreads });
    return this.pool;
  }

  /** Frame-stage calls go through the batcher: streams running the same model share inferences. */
  private pluginBatcher(): Batcher {
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
    if (existing && !existing.finished) return `TaskID: task "${t.TaskID}" already exists here and is not finished`;
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
      if (!v(t.InputInfo.AlgArgs ?? {})) return `InputInfo.AlgArgs: ${(v.errors ?? []).map((e) => `${e.instancePath || '(args)'} ${e.message}`).join('; ')}`;
    }
    const existing = this.tasks.get(t.TaskID);
    if (existing && !existing.finished) return `TaskID: task "${t.TaskID}" already exists here and is not finished`;
    return null;
  }

  /** Installs packages a dispatch names by AlgFileURL but this executor lacks (download, verify, trial-run). */
  private async fetchMissing(list: TaskDispatchInfo[]): Promise<string | null> {
    for (const t of list) {
      const { AlgID, AlgVersion, AlgFileURL } = t.AlgModelInfo;
      if (this.algorithms.find(AlgID, AlgVersion) || this.plugins.has(AlgID, AlgVersion) || !AlgFileURL) continue;
      try {
        const pkg = await fetchPackage(AlgFileURL, this.client);
        const r = await this.plugins.install(pkg);
        if (r.AlgID !== AlgID || r.AlgVersion !== AlgVersion) return `AlgModelInfo.AlgFileURL: package is AlgID ${r.AlgID} version ${r.AlgVersion}, not ${AlgID} ${AlgVersion}`;
        if (r.status !== 'valid') return `AlgModelInfo.AlgFileURL: package failed its trial run: ${r.error}`;
        this.o.log.info({ AlgID, AlgVersion, from: AlgFileURL }, 'algorithm package installed from AlgFileURL');
        void this.session?.reportTotal?.();
      } catch (err) {
        return `AlgModelInfo.AlgFileURL: ${(err as Error).message}`;
      }
    }
    return null;
  }

  private async onTaskDispatch(c: TaskDispatch): Promise<CommandReplyBody> {
    if (c.DeviceID !== this.o.deviceId) return { StatusCode: '1', Message: `DeviceID: this executor is "${this.o.deviceId}", not "${c.DeviceID}"` };
    const list = c.MessageBody.TaskDispatchList;
    const fetchProblem = await this.fetchMissing(list);
    if (fetchProblem) return { StatusCode: '1', Message: fetchProblem };
    const ids = new Set<string>();
    for (const t of list) {
      if (ids.has(t.TaskID)) return { StatusCode: '1', Message: `TaskDispatchList: TaskID "${t.TaskID}" appears twice` };
      ids.add(t.TaskID);
      const why = this.checkExecutable(t);
      if (why) return { StatusCode: '1', Message: `task ${t.TaskID}: ${why}` };
    }
    // All or nothing: every task of the command was checked before any is accepted.
    for (const info of list) {
      const task = new ExecTask(info, ++this.taskSeq);
      this.tasks.set(info.TaskID, task);
      this.persist(task);
      this.report(task);
    }
    this.o.log.info({ tasks: [...ids] }, 'task_dispatch accepted');
    this.scheduleQueue();
    return { StatusCode: '0' };
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
    if (this.algorithms.find(t.info.AlgModelInfo.AlgID, t.info.AlgModelInfo.AlgVersion)?.kind === 'transcode') return this.runTranscode(t);
    const plugin = this.algorithms.find(t.info.AlgModelInfo.AlgID, t.info.AlgModelInfo.AlgVersion) ? undefined : this.plugins.get(t.info.AlgModelInfo.AlgID, t.info.AlgModelInfo.AlgVersion);
    if (plugin && !t.info.InputInfo.StreamURL && t.info.Dependencies?.length) return this.runDownstream(t, plugin);
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
    const loop = plugin ? this.pluginLoop(t, source, plugin) : this.pump(t, source);
    void loop.then(() => this.finish(t, null, source), (err: Error) => this.finish(t, err, source));
  }

  /**
   * A plugin task: each sampled frame is preprocessed by the native core into a
   * SharedArrayBuffer (handed to the worker without a copy), run through the plugin, and its
   * results sent as AnalysisResult. A failed call costs that frame only (ExceptionCode 50).
   */
  private async pluginLoop(t: ExecTask, source: FrameSource, p: LoadedPlugin): Promise<void> {
    try {
      await this.pluginFrames(t, source, p);
    } finally {
      // Results bound for another executor are delivered before this stage says it is done,
      // so the next stage has them all when it is told to finish.
      if (this.destinations(t.info).some((d) => d !== this.o.schedulerUrl)) await this.outbox.flush(t.id, 30_000);
    }
  }

  private async pluginFrames(t: ExecTask, source: FrameSource, p: LoadedPlugin): Promise<void> {
    const dests = this.destinations(t.info);
    const m = p.manifest;
    const spec = { width: m.input.width, height: m.input.height, resize: m.input.resize, layout: m.input.layout, dtype: m.input.dtype, channels: m.input.channels,
      mean: m.input.mean as [number, number, number] | undefined, std: m.input.std as [number, number, number] | undefined, scale: m.input.scale, pad: m.input.pad };
    const bytes = m.input.width * m.input.height * 3 * ((m.input.dtype ?? 'float32') === 'float32' ? 4 : 1);
    let previous: SharedArrayBuffer | ArrayBuffer | undefined;
    let firstWall = -1;
    let firstPts = 0;
    let failures = 0;
    for (;;) {
      while (t.status === ExecutionStatus.Paused || (this.outbox.pending(t.id) > OUTBOX_HIGH_WATER && !t.finished && !this.closed)) await new Promise((r) => setTimeout(r, 50));
      if (t.finished || this.closed) return;
      const f = await source.next();
      if (!f) return;
      t.framesIn++;
      // Temporal plugins keep the previous frame: shared memory; others move a plain buffer to the worker.
      const input = m.input.previousFrame ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
      let results: Array<Record<string, unknown>>;
      try {
        const info = await f.preprocess(spec, new Uint8Array(input));
        if (firstWall < 0) { firstWall = this.clock.now(); firstPts = f.ptsMs; }
        t.lastPtsMs = f.ptsMs;
        let out: unknown;
        try {
          out = (await this.pluginBatcher().call(p, { input, previous: m.input.previousFrame ? previous : undefined, ptsMs: f.ptsMs, args: t.algArgs })).output;
        } catch (err) {
          if (!(err instanceof PluginCallError)) throw err;
          failures++;
          t.exceptionCode = err.exceptionCode;
          t.exceptionDesc = `frame at ${Math.round(f.ptsMs)} ms: ${err.message}`.slice(0, 500);
          this.o.log.warn({ task: t.id, reason: err.reason, err: err.message, failures }, 'plugin call failed; frame skipped');
          this.changed(t);
          previous = input;
          continue;
        }
        previous = input;
        results = ((out as { Results?: unknown[] })?.Results ?? []).filter((r): r is Record<string, unknown> => !!r && typeof r === 'object');
        // Boxes come in input-tensor pixels; map them back to the frame.
        const boxes: Array<Record<string, unknown> & { x: number; y: number; w: number; h: number }> = [];
        for (const r of results) {
          const bs = (r.ResultData as { Boxes?: Array<{ x: number; y: number; w: number; h: number }> } | undefined)?.Boxes;
          if (Array.isArray(bs)) for (const b of bs) {
            b.x = Math.max(0, Math.round((b.x - info.padX) / info.scaleX)); b.y = Math.max(0, Math.round((b.y - info.padY) / info.scaleY));
            b.w = Math.max(1, Math.min(f.width - b.x, Math.round(b.w / info.scaleX))); b.h = Math.max(1, Math.min(f.height - b.y, Math.round(b.h / info.scaleY)));
            boxes.push(b as Record<string, unknown> & { x: number; y: number; w: number; h: number });
          }
        }
        if (t.algArgs.Stage === 'detect') {
          // First stage of a split: the crops travel to the next stage as lossless PNG.
          await Promise.all(boxes.slice(0, m.cropStage?.maxCrops ?? 32).map(async (b) => { b.CropData = (await f.png({ x: b.x, y: b.y, width: b.w, height: b.h })).toString('base64'); }));
        } else if (m.cropStage && boxes.length) await this.cropStage(t, p, f, boxes.slice(0, m.cropStage.maxCrops ?? 32));
      } finally {
        f.release();
      }
      t.framesOut++;
      const body: TaskResultBody = {
        TaskID: t.id, DeviceID: this.o.deviceId,
        DstDeviceList: t.info.DstDeviceList.filter((d) => d.DeviceID).map((d) => ({ DeviceID: d.DeviceID! })),
        AlgID: m.AlgID, AlgVersion: m.AlgVersion,
        ...(m.models?.length ? { ModelList: m.models.map((md) => ({ ModelID: md.ModelID, ModelVersion: md.ModelVersion })) } : {}),
        Ts: Math.round(firstWall + (f.ptsMs - firstPts)), CreateTime: this.clock.nowDateTime(),
        TaskResultData: { AnalysisResult: results.map((r) => ({
          ...(typeof r.Type === 'number' ? { Type: r.Type } : {}),
          ...(r.FeatureInfo && typeof r.FeatureInfo === 'object' ? { FeatureInfo: r.FeatureInfo as Record<string, unknown> } : {}),
          ResultData: { ...(r.ResultData as object), Pts: Math.round(f.ptsMs), FrameWidth: f.width, FrameHeight: f.height },
        })) },
      };
      if (t.info.ParentTaskID) body.ParentTaskID = t.info.ParentTaskID;
      if (dests.length) this.outbox.enqueue(dests, t.id, { method: 'POST', path: '/System/Command', body: { CommandType: CommandType.TaskResult, DeviceID: this.o.deviceId, MessageBody: body } });
    }
  }

  /** Transcoding (TaskType 3): every completed slice becomes a VideoResult. */
  private runTranscode(t: ExecTask): void {
    let tc: SliceSource;
    try {
      tc = openTranscoder(transcodeOptionsFromArgs(t.info.InputInfo.StreamURL!, t.algArgs), this.o.decoder ?? 'auto');
    } catch (err) {
      this.finish(t, err as Error);
      return;
    }
    const handle: FrameSource = { backend: 'ffmpeg-pipe', next: async () => null, close: () => tc.close(), stats: () => ({ backend: tc.backend, decode: 'software', codec: '', width: 0, height: 0, framesSampled: 0, framesDecoded: 0, reconnects: 0, sourceFps: 0 }) };
    this.sources.set(t.id, handle);
    const dests = this.destinations(t.info);
    const opts = transcodeOptionsFromArgs(t.info.InputInfo.StreamURL!, t.algArgs);
    const loop = async () => {
      const t0 = this.clock.now();
      for (;;) {
        while (t.status === ExecutionStatus.Paused) await new Promise((r) => setTimeout(r, 50));
        if (t.finished || this.closed) return;
        const slice = await tc.next();
        if (!slice) return;
        t.framesOut++;
        t.lastPtsMs = slice.startMs + slice.durationMs;
        const body: TaskResultBody = {
          TaskID: t.id, DeviceID: this.o.deviceId,
          DstDeviceList: t.info.DstDeviceList.filter((d) => d.DeviceID).map((d) => ({ DeviceID: d.DeviceID! })),
          AlgID: t.info.AlgModelInfo.AlgID, AlgVersion: t.info.AlgModelInfo.AlgVersion,
          Ts: Math.round(t0 + slice.startMs - (opts.startMs ?? 0)), CreateTime: this.clock.nowDateTime(),
          TaskResultData: { VideoResult: { VideoSliceData: slice.data.toString('base64'), VideoSliceInfo: {
            Index: slice.index, StartMs: slice.startMs, DurationMs: slice.durationMs, Codec: opts.codec, BitrateKbps: opts.bitrateKbps,
            ...(opts.width ? { Width: opts.width, Height: opts.height } : {}), Container: 'mp4', SizeBytes: slice.data.length, SourceURL: t.info.InputInfo.StreamURL,
          } } },
        };
        if (t.info.ParentTaskID) body.ParentTaskID = t.info.ParentTaskID;
        if (dests.length) this.outbox.enqueue(dests, t.id, { method: 'POST', path: '/System/Command', body: { CommandType: CommandType.TaskResult, DeviceID: this.o.deviceId, MessageBody: body } });
      }
    };
    void loop().then(() => this.finish(t, null, handle), (err: Error) => this.finish(t, err, handle));
  }

  /**
   * A stage that works on another task's results (EB4, M2): the upstream stage sends its boxes
   * with the crops as JPEG (CropData); each crop is decoded natively and run through the
   * plugin's crop stage, and the result goes on with the upstream frame's time stamps. A stop
   * (sent when the upstream stage is done) lets it finish what has arrived first.
   */
  private runDownstream(t: ExecTask, p: LoadedPlugin): void {
    const inbox: TaskResultBody[] = [];
    let wake: (() => void) | null = null;
    const handle: FrameSource = {
      backend: 'native', next: async () => null, stats: () => ({ backend: 'native', decode: 'upstream', codec: '', width: 0, height: 0, framesSampled: 0, framesDecoded: 0, reconnects: 0, sourceFps: 0 }),
      close: () => { t.draining = true; wake?.(); },
    };
    this.sources.set(t.id, handle);
    this.inboxes.set(t.id, (b) => { inbox.push(b); wake?.(); });
    const addon = nativeDecoding();
    const dests = this.destinations(t.info);
    const loop = async () => {
      for (;;) {
        while (!inbox.length && !t.draining && !this.closed) await new Promise<void>((r) => { wake = r; setTimeout(r, 1000).unref(); });
        wake = null;
        const b = inbox.shift();
        if (!b) return; // drained after a stop
        t.framesIn++;
        const results = b.TaskResultData.AnalysisResult ?? [];
        for (const r of results) {
          const boxes = ((r.ResultData ?? {}) as { Boxes?: Array<Record<string, unknown>> }).Boxes ?? [];
          await Promise.all(boxes.map(async (box) => {
            if (typeof box.CropData !== 'string') return;
            const img = Buffer.from(box.CropData, 'base64');
            delete box.CropData;
            if (!addon) { box.CropError = 'no native decoder on this executor'; return; }
            const frame = await addon.Frame!.decodeImage(img).catch((err: Error) => { box.CropError = err.message; return null; });
            if (!frame) return;
            const ci = p.manifest.cropStage!.input;
            const bytes = ci.width * ci.height * 3 * ((ci.dtype ?? 'float32') === 'float32' ? 4 : 1);
            const input = new ArrayBuffer(bytes);
            try {
              await frame.preprocess(checkPreprocessSpec({ width: ci.width, height: ci.height, resize: ci.resize, layout: ci.layout, dtype: ci.dtype, channels: ci.channels,
                mean: ci.mean as [number, number, number] | undefined, std: ci.std as [number, number, number] | undefined, scale: ci.scale, pad: ci.pad }), input);
            } finally {
              frame.release();
            }
            try {
              const out = await this.pluginPool().call(p, { input, ptsMs: Number((r.ResultData as { Pts?: number } | undefined)?.Pts ?? 0), args: t.algArgs, stage: 'crop' });
              if (out.output && typeof out.output === 'object') for (const [k, v] of Object.entries(out.output as Record<string, unknown>)) box[k in box ? `Crop${k}` : k] = v;
            } catch (err) {
              if (!(err instanceof PluginCallError)) throw err;
              box.CropError = err.message.slice(0, 200);
            }
          }));
        }
        t.framesOut++;
        const body: TaskResultBody = {
          ...b, TaskID: t.id, DeviceID: this.o.deviceId, AlgID: p.manifest.AlgID, AlgVersion: p.manifest.AlgVersion,
          DstDeviceList: t.info.DstDeviceList.filter((d) => d.DeviceID).map((d) => ({ DeviceID: d.DeviceID! })),
          ...(p.manifest.models?.length ? { ModelList: p.manifest.models.map((md) => ({ ModelID: md.ModelID, ModelVersion: md.ModelVersion })) } : {}),
          CreateTime: this.clock.nowDateTime(),
        };
        if (t.info.ParentTaskID) body.ParentTaskID = t.info.ParentTaskID;
        if (dests.length) this.outbox.enqueue(dests, t.id, { method: 'POST', path: '/System/Command', body: { CommandType: CommandType.TaskResult, DeviceID: this.o.deviceId, MessageBody: body } });
      }
    };
    void loop().then(() => { this.inboxes.delete(t.id); this.finish(t, null, handle); }, (err: Error) => { this.inboxes.delete(t.id); this.finish(t, err, handle); });
  }

  /** Second stage: crop each box from the frame (natively), run the crop models and the plugin's crop export, merge its answer into the box. */
  private async cropStage(t: ExecTask, p: LoadedPlugin, f: SourceFrame, boxes: Array<Record<string, unknown> & { x: number; y: number; w: number; h: number }>): Promise<void> {
    const ci = p.manifest.cropStage!.input;
    const spec = { width: ci.width, height: ci.height, resize: ci.resize, layout: ci.layout, dtype: ci.dtype, channels: ci.channels,
      mean: ci.mean as [number, number, number] | undefined, std: ci.std as [number, number, number] | undefined, scale: ci.scale, pad: ci.pad };
    const bytes = ci.width * ci.height * 3 * ((ci.dtype ?? 'float32') === 'float32' ? 4 : 1);
    await Promise.all(boxes.map(async (b) => {
      const input = new ArrayBuffer(bytes);
      await f.preprocess({ ...spec, crop: { x: b.x, y: b.y, width: b.w, height: b.h } }, new Uint8Array(input));
      try {
        const r = await this.pluginPool().call(p, { input, ptsMs: f.ptsMs, args: t.algArgs, stage: 'crop' });
        if (r.output && typeof r.output === 'object') for (const [k, v] of Object.entries(r.output as Record<string, unknown>)) b[k in b ? `Crop${k}` : k] = v;
      } catch (err) {
        if (!(err instanceof PluginCallError)) throw err;
        b.CropError = err.message.slice(0, 200);
      }
    }));
  }

  /** The frame loop of one task: honours pause, and waits while its results back up in the outbox. */
  private async pump(t: ExecTask, source: FrameSource): Promise<void> {
    const dests = this.destinations(t.info);
    let firstWall = -1;
    let firstPts = 0;
    for (;;) {
      while (t.status === ExecutionStatus.Paused || (this.outbox.pending(t.id) > OUTBOX_HIGH_WATER && !t.finished && !this.closed)) {
        await new Promise((r) => setTimeout(r, 50));
      }
      if (t.finished || this.closed) return;
      const f = await source.next();
      if (!f) return;
      t.framesIn++;
      try {
        if (firstWall < 0) { firstWall = this.clock.now(); firstPts = f.ptsMs; }
        const jpeg = await f.jpeg(Number(t.algArgs.JpegQuality ?? 90));
        t.framesOut++;
        t.lastPtsMs = f.ptsMs;
        // Ts: when the frame was captured, on the corrected clock: first frame's arrival + media time since.
        const ts = firstWall + (f.ptsMs - firstPts);
        const body = this.resultBody(t, ts, { jpeg, ptsMs: Math.round(f.ptsMs), width: f.width, height: f.height });
        if (dests.length) this.outbox.enqueue(dests, t.id, { method: 'POST', path: '/System/Command', body: { CommandType: CommandType.TaskResult, DeviceID: this.o.deviceId, MessageBody: body } });
      } finally {
        f.release();
      }
    }
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

  /** Table 26 body for one frame. */
  private resultBody(t: ExecTask, ts: number, f: { jpeg: Buffer; ptsMs: number; width: number; height: number }): TaskResultBody {
    const body: TaskResultBody = {
      TaskID: t.id,
      DeviceID: this.o.deviceId,
      DstDeviceList: t.info.DstDeviceList.filter((d) => d.DeviceID).map((d) => ({ DeviceID: d.DeviceID! })),
      AlgID: t.info.AlgModelInfo.AlgID,
      AlgVersion: t.info.AlgModelInfo.AlgVersion,
      Ts: Math.round(ts),
      CreateTime: this.clock.nowDateTime(),
      TaskResultData: {
        ImageResult: {
          ImageData: f.jpeg.toString('base64'),
          ImageInfo: { Width: f.width, Height: f.height, Format: 'JPEG', Pts: f.ptsMs, SourceURL: t.info.InputInfo.StreamURL },
        },
      },
    };
    if (t.info.ParentTaskID) body.ParentTaskID = t.info.ParentTaskID;
    if (this.o.longitude) body.Longitude = this.o.longitude;
    if (this.o.latitude) body.Latitude = this.o.latitude;
    return body;
  }

  /** Base URLs results go to: each DstDevice's OutputURL, else the scheduler. */
  private destinations(info: TaskDispatchInfo): string[] {
    const out = new Set<string>();
    for (const d of info.DstDeviceList) {
      if (d.OutputURL) out.add(d.OutputURL.replace(/\/System\/Command\/?$/, ''));
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

  private async deliver(dest: string, seq: number, msg: OutboxMessage): Promise<{ ok: boolean; permanent?: boolean; message?: string }> {
    const body = msg.path === '/System/Command' ? { ...msg.body, CommandIdx: seq } : msg.body;
    // The scheduler knows our session token; another executor knows only the node token.
    const auth = dest !== this.o.schedulerUrl && this.o.token ? { authorization: `Bearer ${this.o.token}` } : undefined;
    const r = await this.client.send(msg.method, joinUrl(dest, msg.path), body, auth);
    const b = r.body as { StatusCode?: string; Message?: string } | undefined;
    if (r.status === 200 && b?.StatusCode === '0') return { ok: true };
    if (r.status === 401 && this.session) void this.session.ensureRegistered();
    // 401 (session lost), 408, 429 and 5xx pass with time; any other refusal (a 4xx, or StatusCode
    // "1" on 200) judges the message itself and will not change on a retry.
    const transient = r.status === 401 || r.status === 408 || r.status === 429 || r.status >= 500;
    return { ok: false, permanent: !transient, message: `HTTP ${r.status}: ${b?.Message ?? ''}` };
  }
}

/** A random ID made once per data directory: with CommandIdx it keeps our commands unique across restarts. */
function loadInstanceId(dir: string): string {
  const f = path.join(dir, 'instance-id');
  if (existsSync(f)) return readFileSync(f, 'utf8').trim();
  const id = randomUUID().slice(0, 8);
  writeFileSync(f, id);
  return id;
}
