/**
 * The scheduler (clauses 7.2–7.5), wired: the device registry and liveness (sessions,
 * keepalives, resource reports, algorithm lists), admission → placement → dispatcher →
 * reconciler for tasks, the task view for what initiators read, and control. Knows executors
 * only through protocol messages.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { AlgStatus, type AvailableResource, type DevTaskStatus, type OpsControl, type Principal, type RegisterRequest, type TaskBasicInfo, type TaskInfo, type TaskResult, type TaskStatus, type TaskStatusQuery, type TotalResource } from '../protocol/index.ts';
import { RetinaClient } from '../net/client.ts';
import { TrustStore } from '../plugins/keys.ts';
import type { SchedulerStateStore, TaskRow } from './store.ts';
import { openState } from './state.ts';
import { SessionTokens } from './sessions.ts';
import type Database from 'better-sqlite3';
import { DeviceRegistry } from './devices.ts';
import type { PlacementView } from './placement/index.ts';
import { applyControls, queryStatus, type ControlContext } from './control.ts';
import { Notifier } from './notifier.ts';
import { loadSecret } from './secret.ts';
import { AlgorithmRepository } from './repository.ts';
import { TrainedModels, trainedModelsKey, withTrainedKey } from './trained-models.ts';
import { SchedulerMetrics } from './metrics.ts';
import { Liveness, type Clock } from './liveness.ts';
import { AlgorithmRefresh } from './algorithm-refresh.ts';
import { IntakeGate } from './intake.ts';
import { MqttSink } from './mqtt-sink.ts';
import { Coordination, type SchedulerParts } from './context.ts';
import { TaskView } from './task-view.ts';
import { Reservations } from './reservations.ts';
import { queryAlgorithms } from './algorithm-query.ts';
import { Dispatcher } from './dispatcher.ts';
import { Reconciler } from './reconciler.ts';
import { Orchestrator } from './orchestration/orchestrator.ts';
import { Admission } from './admission.ts';
import { Management } from './management.ts';
import type { SchedulerOptions, SubmitOutcome, TaskOwner } from './options.ts';
import { cascadeFor, type Cascade } from './cascade/cascade.ts';

export type { SchedulerOptions, SubmitOutcome, TaskOwner } from './options.ts';

export class Scheduler {
  readonly store: SchedulerStateStore;
  /** This process's own SQLite (state.ts): the store's database, or a file of its own beside a shared store. */
  readonly localDb: Database.Database;
  private readonly closeState: () => void;
  /** Devices in memory, indexed (written through to the store). */
  readonly devices: DeviceRegistry;
  /** What placement reads: the registry, active counts, the repository. */
  private readonly view: PlacementView;
  private readonly reservations: Reservations;
  readonly client: RetinaClient;
  readonly repository: AlgorithmRepository;
  /** Prometheus metrics (served at /metrics by the API). */
  readonly metrics: SchedulerMetrics;
  private readonly notifier: Notifier;
  private readonly sessions = new SessionTokens();
  private monitorTimer: NodeJS.Timeout | null = null;
  private readonly flags = new Coordination();
  private readonly now: Clock;
  readonly liveness: Liveness;
  readonly intake: IntakeGate;
  readonly algorithms: AlgorithmRefresh;
  /** The MQTT sink, when a broker is configured. */
  readonly mqtt: MqttSink | null;
  private readonly tasks: TaskView;
  private readonly dispatcher: Dispatcher;
  private readonly reconciler: Reconciler;
  private readonly orchestrator: Orchestrator;
  readonly admission: Admission;
  /** SM1, S4: executors and tasks managed through the interface. */
  readonly management: Management;
  /** 5.2: this scheduler as a level of a cascade (queries below; with `upstream`, the session and relay above). */
  readonly cascade: Cascade;

  constructor(readonly o: SchedulerOptions) {
    this.now = o.now ?? (() => Date.now());
    this.liveness = new Liveness(this.now, () => this.keepaliveSec * 3 * 1000);
    this.intake = new IntakeGate(o.maxIntake ?? 64);
    this.algorithms = new AlgorithmRefresh({
      query: (id) => queryAlgorithms(this.devices, this.client, id), log: o.log, periodMs: o.algRefreshMs,
      stale: (olderThan) => this.devices.stale(this.now(), olderThan),
    });
    const state = openState(o.dataDir, o.store);
    this.store = state.store;
    this.localDb = state.localDb;
    this.closeState = state.close;
    this.devices = new DeviceRegistry(this.store);
    this.reservations = new Reservations((id) => this.store.subtask(id), this.now);
    this.view = this.devices.view((id) => this.store.activeCount(id), (req) => {
      const pub = this.repository.newest({ algId: req.algId, algType: req.algType });
      return pub && { AlgID: pub.AlgID, AlgType: pub.AlgType, AlgVersion: pub.AlgVersion, AlgStatus: AlgStatus.Unused };
    }, (id) => this.reservations.held(id));
    // Commands rest on what the store holds: none leaves before its writes are durable (group commit).
    this.client = new RetinaClient({ token: o.token, senderId: `${o.deviceId}/${randomUUID().slice(0, 8)}`, timeoutMs: 10_000, beforeSend: () => this.store.durable() });
    // NotifyURLs come from requests: their client holds no token (pushes are signed per task).
    this.notifier = new Notifier(new RetinaClient({ senderId: o.deviceId, timeoutMs: 10_000 }), o.log);
    const notifySecret = loadSecret(path.join(o.dataDir, 'notify.secret'));
    this.metrics = new SchedulerMetrics({ taskCounts: () => this.store.taskCountsByStatus(), devices: () => this.devices.rows() });
    this.mqtt = o.mqtt ? new MqttSink(this.localDb, { ...o.mqtt, schedulerId: o.deviceId, log: o.log }) : null;
    const key = trainedModelsKey(o.dataDir); // DC3: what training publishes is signed with it, and trusted here
    this.repository = new AlgorithmRepository(o.dataDir, withTrainedKey(TrustStore.fromDir(o.trustedKeysDir ?? path.join(o.dataDir, 'trusted-keys')), key.publicPem), o.pluginDevMode);
    const trained = new TrainedModels({ key, repository: this.repository, store: this.store, log: o.log, update: { store: this.store, devices: this.devices, repository: this.repository, client: this.client, algFileUrl: (id, v) => this.algFileUrl(id, v), log: o.log } });
    // Results and status changes go to MQTT and, for subtasks an upper scheduler dispatched here, upwards (B.2).
    this.tasks = new TaskView({ o, log: o.log, store: this.store, devices: this.devices, notifier: this.notifier, notifySecret, ended: (id) => this.admission.slots.ended(id), trained, changed: (id, st) => this.admission.onStatus(id, st),
      mqtt: { publish: (id, what, body) => { this.mqtt?.publish(id, what, body()); this.cascade.publish(id, what); } } });
    const parts: SchedulerParts = {
      o, log: o.log, store: this.store, devices: this.devices, view: this.view, client: this.client, repository: this.repository, metrics: this.metrics,
      liveness: this.liveness, tasks: this.tasks, flags: this.flags, reservations: this.reservations, algFileUrl: (id, v) => this.algFileUrl(id, v),
      placer: { placeAll: (...a) => this.dispatcher.placeAll(...a), place: (...a) => this.dispatcher.place(...a) },
      stale: { stopStale: (d, s) => this.reconciler.stopStale(d, s) },
      orchestrator: { hold: (...a) => this.orchestrator.hold(...a), onResult: (b) => this.orchestrator.onResult(b),
        upstreamDone: (d) => this.orchestrator.upstreamDone(d), finishIfFed: (d) => this.orchestrator.finishIfFed(d) },
    };
    this.orchestrator = new Orchestrator(parts);
    this.dispatcher = new Dispatcher(parts);
    this.reconciler = new Reconciler(parts);
    this.admission = new Admission(parts, { intake: this.intake, algorithms: this.algorithms, notifySecret });
    this.management = new Management({ devices: this.devices, store: this.store, reconciler: this.reconciler, now: this.now, deviceId: o.deviceId, log: o.log,
      control: (list) => this.control(list),
      forget: (id) => { this.sessions.forget(id); this.liveness.forget(id); }, deleted: (id, subs) => { this.tasks.forgetTask(id); this.flags.forgetTask(id, subs); this.orchestrator.forgetTask(id, subs); } });
    this.cascade = cascadeFor(this, { update: (id) => this.tasks.update(id), notifyStatus: (id) => this.tasks.notifyStatus(id), notifySecret });
  }

  /** AlgFileURL of a published package. */
  algFileUrl(algId: number, version: string): string {
    return `${this.o.publicUrl}/System/AlgorithmRepository/${algId}/${encodeURIComponent(version)}.rpk`;
  }

  /** The scheduler's time source (the injected clock, or Date.now). */
  clock(): number {
    return this.now();
  }

  get keepaliveSec(): number {
    return this.o.keepaliveSec ?? 5;
  }

  private get checkEveryMs(): number {
    return Math.max(200, (this.keepaliveSec * 1000) / 2);
  }

  /** Starts the liveness monitor and resumes tasks a restart interrupted (SB9). */
  start(): void {
    // After a restart, devices that were online get one full liveness period from now to prove
    // they still are (their last keepalive is as old as the outage; judging by it would move
    // every running subtask at once, to nobody).
    const now = this.now();
    for (const id of [...this.devices.onlineSet()]) {
      this.devices.touch(id, now);
      this.liveness.seen(id, now);
    }
    this.devices.flush();
    this.liveness.startChecks(now);
    // Keepalive stamps reach the store with each liveness check, one transaction for all.
    this.monitorTimer = setInterval(() => { this.devices.flush(); this.checkLiveness(); }, this.checkEveryMs);
    this.monitorTimer.unref();
    this.algorithms.start();
    this.admission.resumeWaiting();
    this.cascade.start();
    // A replica's new term: each executor hears its epoch at once, in a question it answers
    // anyway (what do you run?), so a deposed leader's commands are refused from now on.
    if (this.o.store) for (const id of this.devices.onlineSet()) void this.reconciler.reconcile(id);
  }

  async close(): Promise<void> {
    this.flags.closed = true;
    await this.cascade.close();
    if (this.monitorTimer) clearInterval(this.monitorTimer);
    this.algorithms.stop();
    for (const t of this.flags.retryTimers) clearTimeout(t);
    await this.notifier.idle(1000);
    await this.mqtt?.close();
    await this.client.close();
    this.devices.flush();
    this.closeState();
  }

  /** Registers or re-registers a device; returns its session token. */
  register(r: RegisterRequest['RegisterObject']): string {
    this.devices.register({ deviceId: r.DeviceID, deviceType: r.DeviceType, productType: r.ProductType, deviceName: r.DeviceName, commandUrl: r.CommandURL, longitude: r.Longitude, latitude: r.Latitude }, this.now());
    const token = this.sessions.issue(r.DeviceID);
    this.liveness.seen(r.DeviceID);
    this.o.log.info({ device: r.DeviceID, commandUrl: r.CommandURL }, 'device registered');
    if (r.CommandURL) this.algorithms.kick(r.DeviceID);
    return token;
  }

  /** Who a bearer token other than the node token belongs to: a device session or an initiator. */
  authenticate(token: string): Principal | undefined {
    const deviceId = this.sessions.deviceOf(token);
    if (deviceId !== undefined) return { kind: 'device', deviceId };
    return this.o.initiators?.authenticate(token);
  }

  /** A keepalive from `deviceId`; `arrivedAt` is when its request arrived (stamped by the route). */
  keepalive(deviceId: string, arrivedAt: number = this.now()): boolean {
    // Devices online in memory need no read of their row: only an unknown one is looked up.
    const known = this.liveness.tracks(deviceId);
    const d = known ? undefined : this.devices.row(deviceId);
    if (!known && !d) return false;
    const back = !known && !d!.online;
    this.liveness.seen(deviceId, arrivedAt);
    const ok = this.devices.touch(deviceId, arrivedAt);
    if (back) {
      this.o.log.info({ device: deviceId }, 'device back online');
      void this.reconciler.reconcile(deviceId);
    }
    return ok;
  }

  unregister(deviceId: string): boolean {
    const d = this.devices.row(deviceId);
    if (!d) return false;
    this.sessions.forget(deviceId);
    this.devices.setOnline(deviceId, false);
    this.liveness.forget(deviceId);
    this.o.log.info({ device: deviceId }, 'device unregistered');
    this.reconciler.deviceLost(deviceId, 'unregistered');
    return true;
  }

  /** A TotalResource report says the device changed (restart, install): its algorithm list is refreshed too. */
  reportTotal(r: TotalResource): boolean {
    const ok = this.devices.setTotal(r);
    if (ok && this.devices.row(r.DeviceID)?.command_url) this.algorithms.kick(r.DeviceID);
    if (ok) this.reconciler.resourcesChanged(r.DeviceID); // S7: a shrunk executor loses what it cannot hold
    return ok;
  }

  reportAvailable(r: AvailableResource): boolean {
    const ok = this.devices.setAvailable(r);
    // What runs there is in this report now: placement's charges for it end (S3).
    if (ok) this.reservations.reported(r.DeviceID);
    return ok;
  }

  /** SR3: asks an executor for its algorithms (joining a query already in flight to it). */
  refreshAlgorithms(deviceId: string): Promise<void> {
    return this.algorithms.refresh(deviceId);
  }

  /** Marks devices that missed three keepalives offline and moves their work (S7). */
  private checkLiveness(): void {
    const judged = this.liveness.check(this.checkEveryMs, this.keepaliveSec * 1000);
    if (!Array.isArray(judged)) return void this.o.log.warn({ lateMs: judged.stalledMs }, 'scheduler was stalled; liveness check deferred');
    for (const { deviceId, silentMs } of judged) {
      this.devices.setOnline(deviceId, false);
      this.o.log.warn({ device: deviceId, silentMs }, 'device missed 3 keepalives: offline');
      this.reconciler.deviceLost(deviceId, `executor ${deviceId} went offline`);
    }
  }

  // ---- tasks -----------------------------------------------------------------------------

  /** A TaskRequest; `owner` is the initiator submitting it (absent for a node), reviewed against its policy; `taskId` kept when given (cascade). */
  submit(basic: TaskBasicInfo, owner?: TaskOwner, taskId?: string): Promise<SubmitOutcome> {
    return this.admission.submit(basic, owner, taskId);
  }

  /** `PATCH /System/TaskStatus/`: one DevTaskStatus from an executor (its writes in one transaction). Returns unknown TaskIDs. */
  onTaskStatus(dts: DevTaskStatus): string[] {
    return this.store.batch(() => this.reconciler.onTaskStatus(dts));
  }

  /** Stores a task_result (once per sender + CommandIdx) and forwards it to the initiator. */
  onTaskResult(cmd: TaskResult, sender: string, fromDevice?: string): { ok: true } | { ok: false; message: string } {
    const out = this.tasks.onTaskResult(cmd, sender, fromDevice);
    // M6: a fresh result may meet a conditional stage's condition, or feed a started one; M3: or start a held task.
    if (out.ok && out.fresh) { this.orchestrator.onResult(cmd.MessageBody); this.admission.onResult(cmd.MessageBody); }
    return out.ok ? { ok: true } : out;
  }

  /** Table 31 status of the whole task. */
  taskStatus(task: TaskRow): TaskStatus {
    return this.tasks.taskStatus(task);
  }

  /** Table A.1 record with its A.2 subtasks. */
  taskInfo(taskId: string): TaskInfo | undefined {
    return this.tasks.taskInfo(taskId);
  }

  // ---- initiator control (9.7, 9.9) ----------------------------------------------------

  private get controlContext(): ControlContext {
    return { store: this.store, client: this.client, log: this.o.log, deviceId: this.o.deviceId, stopped: this.flags.stopped, updateTaskStatus: (id) => this.tasks.update(id) };
  }

  /** `task_ops_control` to the scheduler: fans out to the subtasks' executors; returns problems. */
  control(list: OpsControl[]): Promise<string[]> {
    return applyControls(this.controlContext, list);
  }

  /** `task_status_query` to the scheduler. */
  queryStatus(body: TaskStatusQuery['MessageBody']): DevTaskStatus[] {
    return queryStatus(this.controlContext, body);
  }
}
