/**
 * The executor (clause 7.6): keeps its task table, answers the scheduler's commands, runs tasks
 * through their algorithm, and sends results and status through the persistent outbox. This
 * file only builds its rooms and wires them together; each room has one job:
 * commands (clause 9 handlers), admission (EB2), task-store (EB6), task-queue (priority, time
 * windows), task-runs (runner choice), installer (AlgFileURL), routing (destinations, re-point,
 * delivery), runners/ (one file per kind of task, one result emitter).
 */
import type Database from 'better-sqlite3';
import { openDatabase } from '../sqlite.ts';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DeviceType, frameIntervalMs, type CommandHandlers, type TaskDispatchInfo } from '../protocol/index.ts';
import { RetinaClient } from '../net/client.ts';
import type { Logger } from '../log.ts';
import { CorrectedClock } from './clock.ts';
import type { ExecTask } from './exec-task.ts';
import { Outbox } from './outbox.ts';
import { AlgorithmRegistry, FRAME_EXTRACTION, RESULT_FUSION, VIDEO_TRANSCODE } from './algorithms.ts';
import { AlgorithmCatalogue } from './catalogue.ts';
import type { RunContext } from './runners/context.ts';
import { PluginRegistry } from '../plugins/registry.ts';
import { PluginPool } from '../plugins/pool.ts';
import { Batcher } from '../plugins/batcher.ts';
import { TrainPool } from '../plugins/train-pool.ts';
import { SampleStore } from './sample-store.ts';
import { FeedbackStore } from './feedback-store.ts';
import { TrustStore } from '../plugins/keys.ts';
import { FeatureIndex } from './feature-index.ts';
import { ResourceMonitor } from './resources.ts';
import { hostAccelerators } from './accelerators.ts';
import { SchedulerSession } from './session.ts';
import { SchedulerReplicas } from './replicas.ts';
import { EpochFence, type EpochRefusal } from './epoch-fence.ts';
import { decoderBackendInfo } from './backend.ts';
import { loadInstanceId } from './instance-id.ts';
import { TaskStore } from './task-store.ts';
import { TaskQueue } from './task-queue.ts';
import { TaskRuns } from './task-runs.ts';
import { Admission } from './admission.ts';
import { Installer } from './installer.ts';
import { Routing } from './routing.ts';
import { UrlGuard } from './url-guard.ts';
import { SourceProxy } from '../net/source-proxy.ts';
import { commandHandlers, indexFeatures } from './commands.ts';
import { ExecutorMetrics } from './metrics.ts';

export interface ExecutorOptions {
  deviceId: string;
  dataDir: string;
  /** URL other nodes use to reach this executor's `/System/Command`. */
  commandUrl: string;
  /** The scheduler, or its replicas in the order they are tried (issue 14). */
  schedulerUrl?: string | readonly string[];
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
  /** This executor's cap on one plugin's linear memory, MiB (default 1024; a manifest cannot raise it). */
  pluginMaxMemoryMB?: number;
  pluginBatchDelayMs?: number;
  /** Directories file:// StreamURLs may be read from (none: no local files). */
  mediaDirs?: string[];
  /** Directories file:// AlgFileURLs may be read from. */
  packageDirs?: string[];
  /** Let URLs point at loopback, link-local and this node's own addresses (single-box setups, tests). */
  allowPrivateUrls?: boolean;
  /** Base URLs of executors trusted with the node token besides those the scheduler registered. */
  peers?: string[];
  log: Logger;
}

export class Executor {
  readonly clock = new CorrectedClock();
  readonly client: RetinaClient;
  readonly algorithms = new AlgorithmRegistry();
  readonly monitor: ResourceMonitor;
  readonly session?: SchedulerSession;
  readonly plugins: PluginRegistry;
  /** Built-ins and plugins behind one lookup (admission, runners, algorithm_res_query, reports). */
  readonly catalogue: AlgorithmCatalogue;
  /** ED2: features other executors send here, searchable. */
  readonly features = new FeatureIndex();
  private readonly db: Database.Database;
  private readonly store: TaskStore;
  private readonly outbox: Outbox;
  /** B3: the highest scheduler leader epoch seen; older commands are refused. */
  readonly fence: EpochFence;
  private readonly urlGuard: UrlGuard;
  /** HTTP(S) sources go through it: the URL policy on every redirect and playlist entry. */
  private readonly sourceProxy: SourceProxy;
  private readonly routing: Routing;
  private readonly queue: TaskQueue;
  private readonly runs: TaskRuns;
  private readonly admission: Admission;
  private readonly installer: Installer;
  /** Prometheus metrics (served at /metrics by the API). */
  readonly metrics: ExecutorMetrics;
  private pool: PluginPool | null = null;
  private batcher: Batcher | null = null;
  private trainer: TrainPool | null = null;
  /** EC5: samples this edge keeps (hard examples), served by GET /System/Samples/{Set}. */
  readonly samples: SampleStore;
  /** DC7: what this device's models did, waiting for the application's rewards (AlgArgs.FeedbackSet). */
  readonly feedback: FeedbackStore;
  private closed = false;

  constructor(readonly o: ExecutorOptions) {
    mkdirSync(o.dataDir, { recursive: true });
    const instanceId = loadInstanceId(o.dataDir);
    this.db = openDatabase(path.join(o.dataDir, 'executor.db'));
    this.store = new TaskStore(this.db);
    this.fence = new EpochFence(this.db, o.log);
    const replicas = o.schedulerUrl !== undefined && o.schedulerUrl.length ? new SchedulerReplicas(o.schedulerUrl) : undefined;
    this.client = new RetinaClient({ token: o.token, senderId: `${o.deviceId}/${instanceId}` });
    this.monitor = new ResourceMonitor({
      deviceId: o.deviceId, deviceType: o.deviceType ?? DeviceType.Edge, productType: o.productType ?? 'retinad-executor', dataDir: o.dataDir,
      // Installed algorithms in TotalResource too, so a resource query alone shows what this box can run.
      extendInfo: () => ({
        DecoderBackend: decoderBackendInfo(),
        Algorithms: this.catalogue.describe(),
      }),
      decodeSessions: () => this.runs?.hardwareDecodes() ?? { cuda: 0, vaapi: 0 },
      log: o.log,
    });
    this.algorithms.add({ ...FRAME_EXTRACTION, installedAt: this.clock.nowDateTime() });
    this.algorithms.add({ ...VIDEO_TRANSCODE, installedAt: this.clock.nowDateTime() });
    this.algorithms.add({ ...RESULT_FUSION, installedAt: this.clock.nowDateTime() });
    const trust = TrustStore.fromDir(o.trustedKeysDir ?? path.join(o.dataDir, 'trusted-keys'));
    this.samples = new SampleStore(path.join(o.dataDir, 'samples'));
    this.feedback = new FeedbackStore(path.join(o.dataDir, 'feedback'), 10_000, (err) => o.log.warn({ err: err.message }, 'a feedback set could not be written; kept in memory'));
    this.plugins = new PluginRegistry(o.dataDir, trust, { call: (p, c) => this.pluginPool().call(p, c), providers: (p) => this.pool?.providers(p) ?? [] }, { devMode: o.pluginDevMode, maxMemoryMB: o.pluginMaxMemoryMB });
    this.catalogue = new AlgorithmCatalogue(this.algorithms, this.plugins);
    if (o.pluginDevMode) o.log.warn('plugin dev mode: unsigned and unknown-key packages are accepted');
    if (replicas) {
      this.session = new SchedulerSession({
        replicas, epoch: this.fence, deviceId: o.deviceId, deviceType: o.deviceType ?? DeviceType.Edge, productType: o.productType ?? 'retinad-executor',
        commandUrl: o.commandUrl, token: o.token, client: this.client, clock: this.clock, monitor: this.monitor, log: o.log,
        longitude: o.longitude, latitude: o.latitude,
      });
    }
    const policy = { mediaDirs: o.mediaDirs ?? [], allowPrivate: o.allowPrivateUrls ?? false };
    this.sourceProxy = new SourceProxy(policy);
    this.sourceProxy.start().catch((err: Error) => o.log.error({ err: err.message }, 'the source proxy cannot listen: HTTP(S) sources will fail'));
    this.urlGuard = new UrlGuard({
      policy, packageDirs: o.packageDirs ?? [],
      schedulers: replicas, peers: o.peers ?? [], client: this.client,
    });
    this.routing = new Routing({
      deviceId: o.deviceId, replicas, token: o.token, client: this.client, session: this.session, log: o.log, trusted: (dest) => this.urlGuard.trusted(dest),
      outbox: () => this.outbox, task: (id) => this.store.get(id), save: (t) => this.store.save(t), closed: () => this.closed,
    });
    // Results a next stage on another executor acknowledged are kept for a replay if it moves.
    this.outbox = new Outbox(this.db, (dest, seq, msg) => this.routing.deliver(dest, seq, msg), o.log, (dest, task) => this.routing.feedsNextStage(dest, task));
    this.queue = new TaskQueue({
      maxRunning: o.maxRunningTasks ?? 8, clock: this.clock, tasks: () => this.store.all(), closed: () => this.closed,
      run: (t) => this.runs.run(t), changed: (t) => this.changed(t),
    });
    this.runs = new TaskRuns({ ctx: this.runContext(), catalogue: this.catalogue, queue: this.queue, log: o.log });
    this.admission = new Admission({ catalogue: this.catalogue, task: (id) => this.store.get(id) });
    this.installer = new Installer({ algorithms: this.algorithms, plugins: this.plugins, client: this.client, guard: this.urlGuard, log: o.log, installed: () => void this.session?.reportTotal?.() });
    this.metrics = new ExecutorMetrics({
      tasks: () => this.store.all(), framesDecoded: (id) => this.runs.framesDecoded(id),
      outbox: () => ({ backlog: this.outbox.pending(), oldestAgeMs: this.outbox.oldestAgeMs() }), decoder: () => decoderBackendInfo(),
    });
    for (const t of this.store.restore()) {
      // Before the outbox starts: what it delivers from here on, the scheduler did not count yet.
      t.queuedUpToMs = this.outbox.queuedUpToMs(t.id, frameIntervalMs(t.info.InputInfo.TaskFrameRate));
      this.changed(t);
    }
    for (const b of this.store.received()) indexFeatures(this.features, b);
  }

  /** Starts the outbox and the scheduler session (returns once registered or stopped). */
  async start(): Promise<void> {
    this.outbox.start();
    await this.session?.start();
  }

  /** SB5: the limit on tasks running here (`--max-tasks`), read and changed at run time. */
  get taskLimit(): { max: number; running: number } {
    return { max: this.queue.maxRunning, running: this.queue.running };
  }

  setMaxRunningTasks(n: number): void {
    this.queue.setMaxRunning(n);
    this.o.log.info({ maxRunningTasks: n }, 'limit on running tasks changed');
  }

  /** Stops tasks, logs out and closes storage. Results already queued stay on disk for the next start. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.runs.close();
    this.queue.close();
    await this.session?.stop();
    this.store.close();
    this.outbox.close();
    this.feedback.flush();
    await this.pool?.close();
    await this.trainer?.close();
    await this.client.close();
    await this.sourceProxy.close();
    this.db.close();
  }

  /** Handlers for `POST /System/Command`. */
  handlers(): CommandHandlers {
    return commandHandlers({
      deviceId: this.o.deviceId, location: { longitude: this.o.longitude, latitude: this.o.latitude }, monitor: this.monitor, catalogue: this.catalogue, store: this.store,
      admission: this.admission, installer: this.installer, queue: this.queue, runs: this.runs, routing: this.routing,
      outbox: this.outbox, features: this.features, urlGuard: this.urlGuard, changed: (t) => this.changed(t), log: this.o.log,
    });
  }

  /** B3: whether a command with this X-Retinad-Epoch header may run (null), or why not. */
  admitEpoch(header: string | string[] | undefined): EpochRefusal | null {
    return this.fence.admit(header);
  }

  /** EB2: why this executor cannot run `t`, or null when it can. */
  checkExecutable(t: TaskDispatchInfo): string | null {
    return this.admission.check(t);
  }

  /** Snapshot of a task's status (tests and the CLI read it). */
  taskStatus(id: string) {
    return this.store.get(id)?.toStatus();
  }

  /** The sandbox pool, started on first use. */
  pluginPool(): PluginPool {
    // Execution providers per model from the manifest, the probe and the installed ONNX Runtime.
    this.pool ??= new PluginPool({ workers: this.o.pluginWorkers, intraOpThreads: this.o.pluginThreads, accelerators: hostAccelerators(), log: this.o.log });
    return this.pool;
  }

  /** Frame-stage calls go through the batcher: streams running the same model share inferences. */
  pluginBatcher(): Batcher {
    // Off by default: on CPU a batch costs what its frames cost one by one (bench/results/plugins.md);
    // it pays on accelerators. --plugin-max-batch turns it on.
    this.batcher ??= new Batcher(this.pluginPool(), { maxBatch: this.o.pluginMaxBatch ?? 1, maxDelayMs: this.o.pluginBatchDelayMs ?? 5 });
    return this.batcher;
  }

  /** Persists the task and queues a status report (EM4) behind its results, so order holds. */
  private changed(t: ExecTask): void {
    if (this.closed) return;
    this.store.save(t);
    this.routing.report(t);
  }

  /** What the task runners see of this executor (live: `closed` and the outbox are read when used). */
  private runContext(): RunContext {
    const self = this;
    return {
      get deviceId() { return self.o.deviceId; },
      get schedulerUrl() { return self.routing.schedulerUrl; },
      get longitude() { return self.o.longitude; },
      get latitude() { return self.o.latitude; },
      get decoder() { return self.o.decoder; },
      get clock() { return self.clock; },
      get log() { return self.o.log; },
      get outbox() { return self.outbox; },
      get closed() { return self.closed; },
      destinations: (info: TaskDispatchInfo) => self.routing.destinations(info),
      changed: (t: ExecTask) => self.changed(t),
      pluginPool: () => self.pluginPool(),
      pluginBatcher: () => self.pluginBatcher(),
      trainPool: () => (self.trainer ??= new TrainPool()),
      get sampleStore() { return self.samples; },
      get feedbackStore() { return self.feedback; },
      authFor: async (url: string): Promise<Record<string, string>> => (self.o.token && (await self.urlGuard.trusted(url)) ? { authorization: `Bearer ${self.o.token}` } : {}),
      get metrics() { return self.metrics; },
      get sourceProxy() { return self.sourceProxy; },
    };
  }
}
