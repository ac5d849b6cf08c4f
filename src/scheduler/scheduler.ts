/**
 * The scheduler (clauses 7.2–7.5): registry of executors with liveness, task intake and
 * planning, placement, dispatch, status tracking with retries and migration, and result
 * collection. Knows executors only through protocol messages.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { AlgStatus, CommandType, CustomInfo, ExceptionCode, ExecutionStatus, HierarchicalQuery, TaskType, formatRetinaDateTime, parse, AlgorithmResQueryReply, Control, TaskDispatchReply, TaskOpsControlReply, TaskStatusQueryReply, type AvailableResource, type DevTaskStatus, type RegisterRequest, type SubtaskInfo, type TaskBasicInfo, type TaskDispatchInfo, type TaskInfo, type TaskResult, type TaskResultBody, type TaskStatus, type TotalResource, type OpsControl, type TaskStatusQuery, EXCEPTION_DESC_MAX_BYTES, cutUtf8 } from '../protocol/index.ts';
import { RetinaClient } from '../net/client.ts';
import type { Logger } from '../log.ts';
import { ACTIVE_STATUSES, SchedulerStore, type SubtaskRow, type TaskRow } from './store.ts';
import { place as planFor, placementWishes, type PlacementRequest, type PlacementView } from './placement/index.ts';
import { DeviceRegistry } from './devices.ts';
import { applyControls, queryStatus, STOPPED_DESC, type ControlContext } from './control.ts';
import { planSubtasks, planTopology, type SubtaskPlan } from './planner.ts';
import { Notifier } from './notifier.ts';
import { notifyKey } from '../net/notify-signature.ts';
import { checkUrl } from '../net/url-policy.ts';
import { loadSecret, sameOrigin } from './secret.ts';
import { AlgorithmRepository } from './repository.ts';
import { SchedulerMetrics } from './metrics.ts';
import { TrustStore } from '../plugins/keys.ts';
import path from 'node:path';
import { Liveness, type Clock } from './liveness.ts';
import { AlgorithmRefresh } from './algorithm-refresh.ts';
import { acceptsReport } from './lifecycle.ts';
import { IntakeGate, INTAKE_RETRY_AFTER_SEC, busyMessage } from './intake.ts';
import { reviewInitiator, type Initiators } from './initiators.ts';
import { MqttSink } from './mqtt-sink.ts';
import type { InitiatorPolicy, Principal } from '../protocol/index.ts';

/** An initiator submitting a task: its name (kept as the task's owner) and its policy. */
export interface TaskOwner { name: string; policy: InitiatorPolicy }

export interface SchedulerOptions {
  deviceId: string;
  dataDir: string;
  /** URL executors use to reach this scheduler (results are sent here). */
  publicUrl: string;
  token?: string;
  /** Keepalive interval handed to executors, seconds; offline after 3 missed. */
  keepaliveSec?: number;
  /** Trusted publisher keys for the algorithm repository (default <data-dir>/trusted-keys). */
  trustedKeysDir?: string;
  pluginDevMode?: boolean;
  /** SB10: re-dispatches of a failed subtask. */
  maxRetries?: number;
  retryIntervalMs?: number;
  /** How long a retry waits for an executor when none is online (the only one restarting). */
  placementWaitMs?: number;
  /** How often stale algorithm lists are refreshed in the background (default 60 s). */
  algRefreshMs?: number;
  /** Let NotifyURLs point at loopback, link-local or this node's addresses (never at this scheduler itself). */
  allowPrivateUrls?: boolean;
  /** TaskRequests placed or being placed at once; past it, intake answers 503 (default 64). */
  maxIntake?: number;
  /** Time source for liveness (tests inject one; default Date.now). */
  now?: Clock;
  /** Initiators' credentials and policies (`--initiators FILE`). */
  initiators?: Initiators;
  /** Results kept per task; past it a task_result is refused (default 1,000,000). */
  maxResultsPerTask?: number;
  /** Publish results and status changes to this MQTT broker too (`--mqtt-url`). */
  mqtt?: { url: string; prefix?: string; password?: string };
  log: Logger;
}

/** The Topology stage a subtask runs (its id ends in `.<stage name>`; names have no dots). */
function stageOf(custom: CustomInfo, subtaskId: string): NonNullable<CustomInfo['Topology']>['Stages'][number] | undefined {
  const name = subtaskId.slice(subtaskId.lastIndexOf('.') + 1);
  return custom.Topology?.Stages.find((st) => st.Name === name);
}

/** What a Topology stage asks of an executor: its algorithm (else the task's) and DeviceType, with the task's wishes. */
function stageRequest(req: PlacementRequest, custom: CustomInfo, st: NonNullable<CustomInfo['Topology']>['Stages'][number]): PlacementRequest {
  return { ...req, algId: st.AlgID ?? custom.AlgID, algType: st.AlgType ?? (st.AlgID === undefined ? custom.AlgType : undefined), deviceType: st.DeviceType };
}

/** Exception codes worth another try elsewhere; a missing source (60) or unsupported env (10) is not. */
const RETRYABLE = new Set<number>([ExceptionCode.ShortOfResources, ExceptionCode.TooSlow, ExceptionCode.RunError]);
const ACTIVE = ACTIVE_STATUSES;
/** How long a TaskRequest nobody could serve waits for just-registered devices' first algorithm lists. */
const FIRST_LIST_WAIT_MS = 3000;

/** An accepted task (with the key its NotifyURL pushes are signed with), or why not. */
export type SubmitOutcome = { ok: true; taskId: string; notifyKey?: string } | { ok: false; message: string; busy?: { retryAfterSec: number } };

export class Scheduler {
  readonly store: SchedulerStore;
  /** Devices in memory, indexed (written through to the store). */
  readonly devices: DeviceRegistry;
  /** What placement reads: the registry, active counts, the repository. */
  private readonly view: PlacementView;
  readonly client: RetinaClient;
  readonly repository: AlgorithmRepository;
  /** Prometheus metrics (served at /metrics by the API). */
  readonly metrics: SchedulerMetrics;
  private readonly notifier: Notifier;
  private readonly sessions = new Map<string, string>(); // session token → DeviceID
  private monitorTimer: NodeJS.Timeout | null = null;
  private lastCheckAt = 0;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  /** Subtasks being placed again after a failure: reports about their old placement are ignored. */
  private readonly pendingPlacement = new Set<string>();
  /** Subtasks with a task_dispatch in flight: one executor at a time; a liveness decision waits for its answer. */
  private readonly dispatching = new Set<string>();
  /** Subtasks failed because no dispatch was acknowledged (not by an executor's report): a later report from one is accepted. */
  private readonly unconfirmedFailures = new Set<string>();
  /** Tasks and subtasks an initiator stopped (task_ops_control): no retries or migration for them. */
  readonly stopped = new Set<string>();
  /** (device, subtask) pairs already told to stop a copy that moved elsewhere. */
  private readonly staleStops = new Set<string>();
  /** Results stored per task (read from the store once per task, then counted here). */
  private readonly resultCounts = new Map<string, number>();
  private closed = false;
  /** Signs NotifyURL pushes (one derived key per task); kept in the data dir so keys survive a restart. */
  private readonly notifySecret: Buffer;
  private readonly now: Clock;
  readonly liveness: Liveness;
  readonly intake: IntakeGate;
  readonly algorithms: AlgorithmRefresh;
  /** The MQTT sink, when a broker is configured. */
  readonly mqtt: MqttSink | null;

  constructor(readonly o: SchedulerOptions) {
    this.now = o.now ?? (() => Date.now());
    this.liveness = new Liveness(this.now, () => this.keepaliveSec * 3 * 1000);
    this.intake = new IntakeGate(o.maxIntake ?? 64);
    this.algorithms = new AlgorithmRefresh({
      query: (id) => this.queryAlgorithms(id), log: o.log, periodMs: o.algRefreshMs,
      stale: (olderThan) => this.devices.stale(this.now(), olderThan),
    });
    this.store = new SchedulerStore(o.dataDir);
    this.devices = new DeviceRegistry(this.store);
    this.view = this.devices.view((id) => this.store.activeCount(id), (req) => {
      const pub = this.repository.newest({ algId: req.algId, algType: req.algType });
      return pub && { AlgID: pub.AlgID, AlgType: pub.AlgType, AlgVersion: pub.AlgVersion, AlgStatus: AlgStatus.Unused };
    });
    this.client = new RetinaClient({ token: o.token, senderId: `${o.deviceId}/${randomUUID().slice(0, 8)}`, timeoutMs: 10_000 });
    // NotifyURLs come from requests: their client holds no token (pushes are signed per task).
    this.notifier = new Notifier(new RetinaClient({ senderId: o.deviceId, timeoutMs: 10_000 }), o.log);
    this.notifySecret = loadSecret(path.join(o.dataDir, 'notify.secret'));
    this.metrics = new SchedulerMetrics({ taskCounts: () => this.store.taskCountsByStatus(), devices: () => this.devices.rows() });
    this.mqtt = o.mqtt ? new MqttSink(this.store.db, { ...o.mqtt, schedulerId: o.deviceId, log: o.log }) : null;
    this.repository = new AlgorithmRepository(o.dataDir, TrustStore.fromDir(o.trustedKeysDir ?? path.join(o.dataDir, 'trusted-keys')), o.pluginDevMode);
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
    this.lastCheckAt = now;
    this.monitorTimer = setInterval(() => this.checkLiveness(), this.checkEveryMs);
    this.monitorTimer.unref();
    this.algorithms.start();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.monitorTimer) clearInterval(this.monitorTimer);
    this.algorithms.stop();
    for (const t of this.retryTimers) clearTimeout(t);
    await this.notifier.idle(1000);
    await this.mqtt?.close();
    await this.client.close();
    this.store.close();
  }

  // ---- session (EM1, SM2) ----------------------------------------------------------------

  /** Registers or re-registers a device; returns its session token. */
  register(r: RegisterRequest['RegisterObject']): string {
    this.devices.register({ deviceId: r.DeviceID, deviceType: r.DeviceType, productType: r.ProductType, deviceName: r.DeviceName, commandUrl: r.CommandURL, longitude: r.Longitude, latitude: r.Latitude }, this.now());
    for (const [tok, id] of this.sessions) if (id === r.DeviceID) this.sessions.delete(tok);
    const token = randomBytes(24).toString('hex');
    this.sessions.set(token, r.DeviceID);
    this.liveness.seen(r.DeviceID);
    this.o.log.info({ device: r.DeviceID, commandUrl: r.CommandURL }, 'device registered');
    if (r.CommandURL) this.algorithms.kick(r.DeviceID);
    return token;
  }

  /** Who a bearer token other than the node token belongs to: a device session or an initiator. */
  authenticate(token: string): Principal | undefined {
    const deviceId = this.sessions.get(token);
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
      void this.reconcile(deviceId);
    }
    return ok;
  }

  /**
   * A device back after it was thought lost may still run subtasks that moved elsewhere
   * meanwhile: ask it what it runs (task_status_query) and stop those copies.
   */
  private async reconcile(deviceId: string): Promise<void> {
    const d = this.devices.row(deviceId);
    if (!d?.command_url) return;
    try {
      const reply = await this.client.sendCommand(d.command_url, { CommandType: CommandType.TaskStatusQuery, DeviceID: deviceId,
        MessageBody: { DeviceList: [{ DeviceID: deviceId, HierarchicalQuery: HierarchicalQuery.No }] } }, TaskStatusQueryReply);
      for (const dts of reply.TaskStatusSet) {
        if (dts.DeviceID !== deviceId) continue;
        for (const st of dts.TaskStatusList ?? []) {
          const sub = this.store.subtask(st.TaskID);
          if (sub && sub.device_id !== deviceId && ACTIVE.includes(st.ExecutionStatus)) await this.stopStale(deviceId, st.TaskID);
        }
      }
    } catch (err) {
      this.o.log.warn({ device: deviceId, err: (err as Error).message }, 'could not ask a returning device what it runs');
    }
  }

  unregister(deviceId: string): boolean {
    const d = this.devices.row(deviceId);
    if (!d) return false;
    for (const [tok, id] of this.sessions) if (id === deviceId) this.sessions.delete(tok);
    this.devices.setOnline(deviceId, false);
    this.liveness.forget(deviceId);
    this.o.log.info({ device: deviceId }, 'device unregistered');
    this.deviceLost(deviceId, 'unregistered');
    return true;
  }

  /** A TotalResource report says the device changed (restart, install): its algorithm list is refreshed too. */
  reportTotal(r: TotalResource): boolean {
    const ok = this.devices.setTotal(r);
    if (ok && this.devices.row(r.DeviceID)?.command_url) this.algorithms.kick(r.DeviceID);
    return ok;
  }

  reportAvailable(r: AvailableResource): boolean {
    return this.devices.setAvailable(r);
  }

  /** SR3: asks an executor for its algorithms (joining a query already in flight to it). */
  refreshAlgorithms(deviceId: string): Promise<void> {
    return this.algorithms.refresh(deviceId);
  }

  /** One algorithm_res_query; only AlgorithmRefresh calls it, so at most one per device is in flight. */
  private async queryAlgorithms(deviceId: string): Promise<void> {
    const d = this.devices.row(deviceId);
    if (!d?.command_url) return;
    let reply: AlgorithmResQueryReply;
    try {
      reply = await this.client.sendCommand(d.command_url, {
        CommandType: CommandType.AlgorithmResQuery, DeviceID: deviceId,
        MessageBody: { DeviceList: [{ DeviceID: deviceId, HierarchicalQuery: HierarchicalQuery.No }] },
      }, AlgorithmResQueryReply);
    } catch (err) {
      throw new Error(`algorithm_res_query to ${deviceId}: ${(err as Error).message}`);
    }
    const mine = reply.AlgResourceList.find((a) => a.DeviceID === deviceId) ?? { DeviceID: deviceId, AlgInfoList: [] };
    this.devices.setAlgs(deviceId, mine);
  }

  /** Marks devices that missed three keepalives offline and moves their work (S7). */
  private checkLiveness(): void {
    const now = this.now();
    // After the scheduler itself stalled (a busy event loop, a paused VM), timers run before the
    // keepalives that queued up meanwhile are read: judge nobody until they have been.
    const late = now - this.lastCheckAt - this.checkEveryMs;
    this.lastCheckAt = now;
    if (late > this.keepaliveSec * 1000) {
      this.o.log.warn({ lateMs: late }, 'scheduler was stalled; liveness check deferred');
      return;
    }
    for (const { deviceId, silentMs } of this.liveness.expired()) {
      this.devices.setOnline(deviceId, false);
      this.o.log.warn({ device: deviceId, silentMs }, 'device missed 3 keepalives: offline');
      this.deviceLost(deviceId, `executor ${deviceId} went offline`);
    }
  }

  private deviceLost(deviceId: string, why: string): void {
    for (const s of this.store.subtasksOnDevice(deviceId, ACTIVE)) {
      // Its dispatch is still in flight: place() judges that placement when the answer comes.
      if (this.dispatching.has(s.subtask_id)) continue;
      this.subtaskFailed(s, ExceptionCode.RunError, why, true);
    }
  }

  // ---- task intake (I1, SB1, M1) -------------------------------------------------------

  /**
   * Accepts a TaskRequest when some online executor can serve it; dispatches in the background.
   * Refused as busy when the intake is full; the slot is held until its subtasks are dispatched.
   */
  /** A TaskRequest; `owner` is the initiator submitting it (absent for a node), reviewed against its policy. */
  async submit(basic: TaskBasicInfo, owner?: TaskOwner): Promise<SubmitOutcome> {
    if (!this.intake.tryEnter()) return { ok: false, message: busyMessage(this.intake.max), busy: { retryAfterSec: INTAKE_RETRY_AFTER_SEC } };
    let out: SubmitOutcome;
    try {
      out = await this.admit(basic, owner);
    } catch (err) {
      this.intake.leave();
      throw err;
    }
    if (!out.ok) this.intake.leave();
    return out;
  }

  /** Places all of an accepted task's subtasks, then frees its intake slot. */
  private placeAccepted(taskId: string, plans: SubtaskPlan[], req: PlacementRequest): void {
    void this.placeAll(taskId, plans, req)
      .catch((err: Error) => this.o.log.error({ task: taskId, err: err.message }, 'placement failed'))
      .finally(() => this.intake.leave());
  }

  private async admit(basic: TaskBasicInfo, owner?: TaskOwner): Promise<SubmitOutcome> {
    // Table 17 makes CustomInfo optional and the request is valid without it; but it is where
    // PROTOCOL.md puts the data source and the algorithm, so without it there is nothing to run.
    if (basic.InitiationInfo.CustomInfo === undefined) {
      return { ok: false, message: 'InitiationInfo.CustomInfo: needed here to name the data source (Inputs) and the algorithm (AlgID or AlgType)' };
    }
    const ci = parse(CustomInfo, basic.InitiationInfo.CustomInfo);
    if (!ci.ok) return { ok: false, message: `InitiationInfo.CustomInfo: ${ci.message}` };
    const custom = ci.value;
    if (custom.Topology) {
      for (const st of custom.Topology.Stages) {
        if (st.AlgID === undefined && st.AlgType === undefined && custom.AlgID === undefined && custom.AlgType === undefined) {
          return { ok: false, message: `InitiationInfo.CustomInfo.Topology: stage "${st.Name}" names no AlgID or AlgType` };
        }
      }
      const names = custom.Topology.Stages.map((x) => x.Name);
      if (new Set(names).size !== names.length) return { ok: false, message: 'InitiationInfo.CustomInfo.Topology: stage names must be unique' };
    }
    if (custom.AlgID === undefined && custom.AlgType === undefined && !custom.Topology) {
      if (basic.TaskType === TaskType.FrameExtraction) custom.AlgType = 'frame_extraction';
      else return { ok: false, message: 'InitiationInfo.CustomInfo: AlgID or AlgType is required to pick an algorithm' };
    }
    if (owner) {
      const why = reviewInitiator(owner.name, owner.policy, custom);
      if (why) return { ok: false, message: why };
    }
    if (custom.NotifyURL !== undefined) {
      const why = await this.notifyUrlProblem(custom.NotifyURL);
      if (why) return { ok: false, message: why };
    }
    const w = placementWishes(basic.Constraints, custom);
    if (!w.ok) return { ok: false, message: w.message };
    const req: PlacementRequest = { algId: custom.AlgID, algType: custom.AlgType, ...w.value };
    // No device is queried here. Only a request that would be refused waits (briefly) for the
    // first algorithm lists of devices that just registered and are still answering.
    if (!this.servable(req, custom)) await this.algorithms.settle(this.unlistedDevices(), FIRST_LIST_WAIT_MS);
    if (custom.Topology) {
      for (const st of custom.Topology.Stages) {
        const sreq = stageRequest(req, custom, st);
        if (!planFor(sreq, this.view).ranked.length) return { ok: false, message: `Topology stage "${st.Name}": no online executor${st.DeviceType !== undefined ? ` of DeviceType ${st.DeviceType}` : ''} offers ${sreq.algId !== undefined ? `AlgID ${sreq.algId}` : `AlgType "${sreq.algType}"`}` };
      }
      const taskId = randomUUID();
      this.store.insertTask(taskId, basic, custom, ExecutionStatus.Queued, owner?.name ?? null);
      this.o.log.info({ task: taskId, name: basic.TaskName, stages: custom.Topology.Stages.map((x) => x.Name) }, 'task accepted (manual topology)');
      this.notifyStatus(taskId);
      this.placeAccepted(taskId, planTopology(taskId, basic, custom, { deviceId: this.o.deviceId, url: this.o.publicUrl }), req);
      return this.accepted(taskId, custom);
    }
    if (!planFor(req, this.view).ranked.length) {
      const what = custom.AlgID !== undefined ? `AlgID ${custom.AlgID}` : `AlgType "${custom.AlgType}"`;
      return { ok: false, message: `no online executor offers ${what}` };
    }
    const taskId = randomUUID();
    this.store.insertTask(taskId, basic, custom, ExecutionStatus.Queued, owner?.name ?? null);
    this.o.log.info({ task: taskId, name: basic.TaskName, inputs: custom.Inputs.length }, 'task accepted');
    this.notifyStatus(taskId);
    const plans = planSubtasks(taskId, basic, custom, { deviceId: this.o.deviceId, url: this.o.publicUrl });
    this.placeAccepted(taskId, plans, req);
    return this.accepted(taskId, custom);
  }

  private accepted(taskId: string, custom: CustomInfo): SubmitOutcome {
    return custom.NotifyURL ? { ok: true, taskId, notifyKey: notifyKey(this.notifySecret, taskId) } : { ok: true, taskId };
  }

  /** Why a NotifyURL may not be used: the URL policy, and never this scheduler itself (a loop). */
  private async notifyUrlProblem(url: string): Promise<string | null> {
    try {
      await checkUrl('InitiationInfo.CustomInfo.NotifyURL', url, 'callback', { mediaDirs: [], allowPrivate: this.o.allowPrivateUrls ?? false });
    } catch (err) {
      return (err as Error).message;
    }
    if (sameOrigin(url, this.o.publicUrl)) return 'InitiationInfo.CustomInfo.NotifyURL: must not point at this scheduler';
    return null;
  }

  /** Online devices with no algorithm list yet whose first query is in flight. */
  private unlistedDevices(): string[] {
    return this.devices.unlisted().filter((id) => this.algorithms.isInFlight(id));
  }

  /** Whether some online executor (or the repository) can take the task's algorithm(s) now. */
  private servable(req: PlacementRequest, custom: CustomInfo): boolean {
    const reqs = custom.Topology ? custom.Topology.Stages.map((st) => stageRequest(req, custom, st)) : [req];
    return reqs.every((r) => planFor(r, this.view).ranked.length > 0);
  }

  private async placeAll(taskId: string, plans: SubtaskPlan[], req: PlacementRequest): Promise<void> {
    // A stage sends its results to the next one: place downstream first, then point upstream at it.
    const downstreamOf = new Map(plans.filter((p) => p.stage?.upstream).map((p) => [p.stage!.upstream!, p]));
    const order = plans.some((p) => p.stage) ? [...plans].reverse() : plans;
    for (const plan of order) {
      // A Stop that arrives while a large task is still being placed ends the placing too.
      if (this.stopped.has(taskId) || this.closed) {
        this.o.log.info({ task: taskId, unplaced: order.length - order.indexOf(plan) }, 'task stopped during placement: the rest is not placed');
        break;
      }
      const down = downstreamOf.get(plan.subtaskId);
      if (down) {
        const placed = this.store.subtask(down.subtaskId);
        const dev = placed ? this.devices.row(placed.device_id) : undefined;
        if (dev?.command_url) plan.dispatch = { ...plan.dispatch, DstDeviceList: [{ DeviceID: dev.device_id, OutputURL: dev.command_url }] };
      }
      // A later stage decodes nothing: it works on the results the stage before it sends.
      const preq: PlacementRequest = plan.stage ? { ...req, algId: plan.stage.algId, algType: plan.stage.algType, deviceType: plan.stage.deviceType, ...(plan.stage.upstream ? { decodeUnits: undefined } : {}) } : req;
      await this.place(taskId, plan, preq, 1, new Set());
    }
    this.updateTaskStatus(taskId);
  }

  /** M2: when a stage finishes, the stages that consume its results are told to finish too (they drain first). */
  private async finishDependents(done: SubtaskRow): Promise<void> {
    for (const s of this.store.subtasks(done.task_id)) {
      const info = JSON.parse(s.dispatch_info) as TaskDispatchInfo;
      if (!info.Dependencies?.some((d) => d.TaskID === done.subtask_id) || !ACTIVE.includes(s.status)) continue;
      const dev = this.devices.row(s.device_id);
      if (!dev?.command_url) continue;
      try {
        await this.client.sendCommand(dev.command_url, { CommandType: CommandType.TaskOpsControl, DeviceID: dev.device_id,
          MessageBody: { OpsControlList: [{ DeviceID: dev.device_id, TaskID: s.subtask_id, Control: Control.Stop }] } }, TaskOpsControlReply);
      } catch (err) {
        this.o.log.warn({ subtask: s.subtask_id, err: (err as Error).message }, 'could not tell a dependent stage to finish');
      }
    }
  }

  /** Places and dispatches one subtask, trying the ranked executors in turn; returns the executor, or null. */
  private async place(taskId: string, plan: SubtaskPlan, req: PlacementRequest, attempt: number, exclude: Set<string>, opts: { waitIfNone?: boolean } = {}): Promise<string | null> {
    const t0 = performance.now();
    const placed = await this.placeOnce(taskId, plan, req, attempt, exclude, opts);
    this.metrics.placed(placed !== null, performance.now() - t0);
    return placed;
  }

  private async placeOnce(taskId: string, plan: SubtaskPlan, req: PlacementRequest, attempt: number, exclude: Set<string>, opts: { waitIfNone?: boolean }): Promise<string | null> {
    const preq = { ...req, exclude, nearDeviceId: plan.nearDeviceId };
    let { ranked } = planFor(preq, this.view);
    // With nobody else left, the excluded executor is still better than giving up — also when it
    // runs the algorithm only from our repository (its algorithm list may predate the install).
    if (!ranked.length && exclude.size) ranked = planFor({ ...preq, exclude: new Set<string>() }, this.view).ranked;
    if (!ranked.length && opts.waitIfNone) {
      // A retry with nobody online (the only executor restarting): stay queued; the caller tries again.
      this.store.setSubtaskStatus(plan.subtaskId, { status: ExecutionStatus.Queued, exceptionDesc: 'waiting for an online executor that offers the algorithm' });
      return null;
    }
    const errors: string[] = [];
    const tried = new Set<string>();
    this.dispatching.add(plan.subtaskId);
    try {
    for (const c of ranked) {
      if (tried.has(c.device.device_id)) continue;
      tried.add(c.device.device_id);
      // An executor without the package fetches it from our repository (AlgFileURL, table 20).
      const published = this.repository.read(c.alg.AlgID, c.alg.AlgVersion) ? this.algFileUrl(c.alg.AlgID, c.alg.AlgVersion) : undefined;
      const dispatch: TaskDispatchInfo = { ...plan.dispatch, AlgModelInfo: { AlgID: c.alg.AlgID, AlgVersion: c.alg.AlgVersion, ...(published ? { AlgFileURL: published } : {}) } };
      this.store.insertSubtask({ subtaskId: plan.subtaskId, taskId, deviceId: c.device.device_id, dispatch, status: ExecutionStatus.Queued, attempts: attempt });
      try {
        await this.client.sendCommand(c.device.command_url!, {
          CommandType: CommandType.TaskDispatch, DeviceID: c.device.device_id,
          MessageBody: { TaskDispatchList: [dispatch] },
        }, TaskDispatchReply);
        if (!this.liveness.tracks(c.device.device_id)) {
          // Marked offline while the dispatch was in flight: the work is placed elsewhere, so this
          // copy is stopped, never left as a second live one; everyone online is a candidate again.
          void this.stopStale(c.device.device_id, plan.subtaskId);
          errors.push(`${c.device.device_id}: went offline during dispatch`);
          const again = { ...preq, exclude: tried };
          ranked.push(...planFor(again, this.view).ranked);
          continue;
        }
        this.devices.notePlaced(c.device.device_id);
        this.o.log.info({ task: taskId, subtask: plan.subtaskId, device: c.device.device_id, attempt }, 'subtask dispatched');
        return c.device.device_id;
      } catch (err) {
        this.metrics.dispatchFailed();
        errors.push(`${c.device.device_id}: ${(err as Error).message}`);
      }
    }
    } finally {
      this.dispatching.delete(plan.subtaskId);
    }
    const desc = errors.length ? `no executor accepted the subtask: ${errors.join('; ')}` : 'no online executor offers the algorithm';
    this.o.log.warn({ task: taskId, subtask: plan.subtaskId, desc }, 'subtask not placed');
    if (!this.store.subtask(plan.subtaskId)) {
      this.store.insertSubtask({ subtaskId: plan.subtaskId, taskId, deviceId: '-', dispatch: plan.dispatch, status: ExecutionStatus.Error, attempts: attempt });
    }
    this.store.setSubtaskStatus(plan.subtaskId, { status: ExecutionStatus.Error, exceptionCode: ExceptionCode.ShortOfResources, exceptionDesc: cutUtf8(desc, EXCEPTION_DESC_MAX_BYTES) });
    // A dispatch whose answer was lost (a timeout) may still have been accepted: this failure is
    // the scheduler's guess, not the executor's word, so that executor's reports still count.
    this.unconfirmedFailures.add(plan.subtaskId);
    this.updateTaskStatus(taskId);
    return null;
  }

  // ---- status (S5, EM4) ----------------------------------------------------------------

  /** `PATCH /System/TaskStatus/`: one DevTaskStatus from an executor. Returns unknown TaskIDs. */
  onTaskStatus(dts: DevTaskStatus): string[] {
    const unknown: string[] = [];
    for (const st of dts.TaskStatusList ?? []) {
      const sub = this.store.subtask(st.TaskID);
      if (!sub) { unknown.push(st.TaskID); continue; }
      if (this.pendingPlacement.has(st.TaskID)) continue; // about a placement the scheduler has already given up on
      if (sub.device_id !== dts.DeviceID) {
        // An executor the subtask has left (it was thought lost, and came back) still runs it: stop that copy.
        if (ACTIVE.includes(st.ExecutionStatus)) void this.stopStale(dts.DeviceID, st.TaskID);
        continue;
      }
      if (!acceptsReport(sub.status) && !this.unconfirmedFailures.delete(st.TaskID)) {
        // Table 31: done and failed are final; this report was overtaken by the end.
        this.o.log.info({ subtask: st.TaskID, device: dts.DeviceID, status: sub.status, reported: st.ExecutionStatus }, 'stale status report ignored');
        continue;
      }
      this.store.setSubtaskStatus(st.TaskID, { status: st.ExecutionStatus, progress: st.Progress, exceptionCode: st.ExceptionCode ?? null, exceptionDesc: st.ExceptionDesc ?? null });
      if (st.ExecutionStatus === ExecutionStatus.Error) {
        const fresh = this.store.subtask(st.TaskID)!;
        this.subtaskFailed(fresh, st.ExceptionCode ?? ExceptionCode.RunError, st.ExceptionDesc ?? 'error', false);
      }
      if (st.ExecutionStatus === ExecutionStatus.Done && sub.status !== ExecutionStatus.Done) void this.finishDependents(this.store.subtask(st.TaskID)!);
      this.updateTaskStatus(sub.task_id);
    }
    return unknown;
  }

  /** Tells `deviceId` to stop its copy of a subtask that now runs elsewhere (once per pair). */
  private async stopStale(deviceId: string, subtaskId: string): Promise<void> {
    const key = `${deviceId}\n${subtaskId}`;
    const dev = this.devices.row(deviceId);
    if (this.staleStops.has(key) || !dev?.command_url) return;
    this.staleStops.add(key);
    this.o.log.warn({ device: deviceId, subtask: subtaskId }, 'stopping a copy of a subtask that moved elsewhere');
    try {
      await this.client.sendCommand(dev.command_url, { CommandType: CommandType.TaskOpsControl, DeviceID: deviceId,
        MessageBody: { OpsControlList: [{ DeviceID: deviceId, TaskID: subtaskId, Control: Control.Stop }] } }, TaskOpsControlReply);
    } catch (err) {
      this.staleStops.delete(key); // try again on its next report
      this.o.log.warn({ device: deviceId, subtask: subtaskId, err: (err as Error).message }, 'could not stop a stale copy');
    }
  }

  /** SB10 / S7: retry a failed subtask elsewhere (resuming at its last position), or let it fail. */
  private subtaskFailed(s: SubtaskRow, code: number, desc: string, executorLost: boolean): void {
    if (this.stopped.has(s.task_id) || this.stopped.has(s.subtask_id)) {
      // Stopped by its initiator: an executor lost meanwhile ends it as stopped, not as an error.
      if (executorLost) this.store.setSubtaskStatus(s.subtask_id, { status: ExecutionStatus.Done, exceptionDesc: STOPPED_DESC });
      else this.store.setSubtaskStatus(s.subtask_id, { status: ExecutionStatus.Error, exceptionCode: code, exceptionDesc: cutUtf8(desc, EXCEPTION_DESC_MAX_BYTES) });
      this.updateTaskStatus(s.task_id);
      return;
    }
    if (this.pendingPlacement.has(s.subtask_id)) {
      // Already being placed again: a second retry would make a second live copy.
      this.o.log.info({ subtask: s.subtask_id, why: desc }, 'failure of a subtask already being rescheduled ignored');
      return;
    }
    const max = this.o.maxRetries ?? 2;
    const retryable = executorLost || RETRYABLE.has(code);
    if (!retryable || s.attempts > max || this.closed) {
      this.store.setSubtaskStatus(s.subtask_id, { status: ExecutionStatus.Error, exceptionCode: code, exceptionDesc: cutUtf8(desc, EXCEPTION_DESC_MAX_BYTES) });
      this.updateTaskStatus(s.task_id);
      return;
    }
    const task = this.store.task(s.task_id);
    if (!task) return;
    const dispatch = JSON.parse(s.dispatch_info) as TaskDispatchInfo;
    const fps = dispatch.InputInfo.TaskFrameRate ?? 1;
    // SB12: a subtask that reads a stream resumes after what it already delivered.
    const resume = dispatch.InputInfo.StreamURL ? this.store.resumeAfterMs(s.subtask_id, 1000 / fps) : null;
    const args = { ...(dispatch.InputInfo.AlgArgs ?? {}) };
    if (resume !== null) args.StartOffsetMs = resume;
    const custom = JSON.parse(task.custom_info) as CustomInfo;
    // A stage of a manual topology keeps its DeviceType and AlgType when it moves (M1, S1).
    const stage = stageOf(custom, s.subtask_id);
    const wishes = placementWishes((JSON.parse(task.basic_info) as TaskBasicInfo).Constraints, custom);
    const req: PlacementRequest = { ...(wishes.ok ? wishes.value : {}), ...(dispatch.Dependencies?.length ? { decodeUnits: undefined } : {}),
      algId: dispatch.AlgModelInfo.AlgID || (stage ? stage.AlgID : custom.AlgID),
      algType: dispatch.AlgModelInfo.AlgID ? undefined : (stage ? stage.AlgType : custom.AlgType), deviceType: stage?.DeviceType };
    this.store.setSubtaskStatus(s.subtask_id, { status: ExecutionStatus.Queued, exceptionCode: code, exceptionDesc: cutUtf8(`retrying: ${desc}`, EXCEPTION_DESC_MAX_BYTES) });
    this.o.log.warn({ subtask: s.subtask_id, from: s.device_id, attempt: s.attempts + 1, why: desc }, 'rescheduling subtask');
    // Reports about the old placement are ignored from here until the subtask is placed again.
    this.pendingPlacement.add(s.subtask_id);
    const waitUntil = Date.now() + (this.o.placementWaitMs ?? 60_000);
    const t = setTimeout(() => {
      this.retryTimers.delete(t);
      // Not while closing, and not if the subtask was stopped while it waited.
      if (this.closed || this.store.subtask(s.subtask_id)?.status !== ExecutionStatus.Queued) { this.pendingPlacement.delete(s.subtask_id); return; }
      void this.placeAgain(s, { ...dispatch, InputInfo: { ...dispatch.InputInfo, AlgArgs: args } }, req, waitUntil);
    }, executorLost ? 0 : this.o.retryIntervalMs ?? 2000);
    t.unref();
    this.retryTimers.add(t);
  }

  /**
   * Places a failed subtask again. A stage's destinations are re-read first (the stage after it
   * may have moved meanwhile); once placed, the stages that feed it are re-pointed at its new
   * executor, and if they are already done it is told to finish after what it has.
   */
  private async placeAgain(s: SubtaskRow, dispatch: TaskDispatchInfo, req: PlacementRequest, waitUntil: number): Promise<void> {
    const down = this.store.subtasks(s.task_id).find((x) => (JSON.parse(x.dispatch_info) as TaskDispatchInfo).Dependencies?.some((d) => d.TaskID === s.subtask_id));
    const downDev = down ? this.devices.row(down.device_id) : undefined;
    if (downDev?.command_url) dispatch = { ...dispatch, DstDeviceList: [{ DeviceID: downDev.device_id, OutputURL: downDev.command_url }] };
    const waiting = Date.now() < waitUntil;
    const placed = await this.place(s.task_id, { subtaskId: s.subtask_id, dispatch }, req, s.attempts + 1, new Set([s.device_id]), { waitIfNone: waiting });
    if (!placed && waiting && this.store.subtask(s.subtask_id)?.status === ExecutionStatus.Queued && !this.closed) {
      // Nobody can take it yet: look again shortly, until the wait is over.
      const t = setTimeout(() => {
        this.retryTimers.delete(t);
        if (this.closed || this.store.subtask(s.subtask_id)?.status !== ExecutionStatus.Queued) { this.pendingPlacement.delete(s.subtask_id); return; }
        void this.placeAgain(s, dispatch, req, waitUntil);
      }, Math.min(1000, this.o.retryIntervalMs ?? 2000));
      t.unref();
      this.retryTimers.add(t);
      return;
    }
    this.pendingPlacement.delete(s.subtask_id);
    if (!placed || !dispatch.Dependencies?.length) return;
    const dev = this.devices.row(placed);
    if (!dev?.command_url) return;
    for (const dep of dispatch.Dependencies) {
      const up = this.store.subtask(dep.TaskID);
      if (!up) continue;
      const upInfo = JSON.parse(up.dispatch_info) as TaskDispatchInfo;
      const moved: TaskDispatchInfo = { ...upInfo, DstDeviceList: [{ DeviceID: dev.device_id, OutputURL: dev.command_url }] };
      this.store.setSubtaskDispatch(up.subtask_id, moved);
      // Results the dead stage took but never passed on: the upstream sends again those of frames
      // after the last one this stage's results reached us for.
      const replayFrom = this.store.resumeAfterMs(s.subtask_id, 1) ?? 0;
      const repoint: TaskDispatchInfo = { ...moved, InputInfo: { ...moved.InputInfo, AlgArgs: { ...(moved.InputInfo.AlgArgs ?? {}), ReplayFromMs: replayFrom } } };
      const upDev = this.devices.row(up.device_id);
      // A running stage is re-pointed; a finished one only sends again what the dead stage lost.
      if (!(ACTIVE.includes(up.status) || up.status === ExecutionStatus.Done) || !upDev?.command_url || !upDev.online) continue;
      try {
        // The same TaskID again with new destinations: the executor re-points it (and what it still has queued).
        await this.client.sendCommand(upDev.command_url, { CommandType: CommandType.TaskDispatch, DeviceID: upDev.device_id,
          MessageBody: { TaskDispatchList: [repoint] } }, TaskDispatchReply);
        this.o.log.info({ subtask: up.subtask_id, to: dev.device_id }, 'upstream stage re-pointed at the moved stage');
      } catch (err) {
        this.o.log.warn({ subtask: up.subtask_id, err: (err as Error).message }, 'upstream stage not re-pointed');
      }
    }
    // Upstream stages that already finished will send nothing more: the moved stage finishes at once.
    const upstream = dispatch.Dependencies.map((d) => this.store.subtask(d.TaskID));
    const [first] = upstream;
    if (first && upstream.every((u) => u?.status === ExecutionStatus.Done)) {
      await this.finishDependents(first);
    }
  }

  /** Derives the task's ExecutionStatus from its subtasks and tells the initiator when it changes. */
  private updateTaskStatus(taskId: string): void {
    const subs = this.store.subtasks(taskId);
    if (!subs.length) return;
    const has = (s: number) => subs.some((x) => x.status === s);
    let status: number;
    let code: number | null = null;
    let desc: string | null = null;
    if (has(ExecutionStatus.Error)) {
      const bad = subs.find((x) => x.status === ExecutionStatus.Error)!;
      status = ExecutionStatus.Error;
      code = bad.exception_code;
      desc = `subtask ${bad.subtask_id}: ${bad.exception_desc ?? ''}`;
    } else if (subs.every((x) => x.status === ExecutionStatus.Done)) status = ExecutionStatus.Done;
    else if (has(ExecutionStatus.Running)) status = ExecutionStatus.Running;
    else if (has(ExecutionStatus.Paused)) status = ExecutionStatus.Paused;
    else if (has(ExecutionStatus.Done)) status = ExecutionStatus.Running; // some finished, others waiting
    else status = ExecutionStatus.Queued;
    if (this.store.setTaskStatus(taskId, status, code, desc)) {
      this.o.log.info({ task: taskId, status }, 'task status');
      this.notifyStatus(taskId);
    }
  }

  private notifyUrl(task: TaskRow): string | undefined {
    return (JSON.parse(task.custom_info) as CustomInfo).NotifyURL;
  }

  /** Table 31 status of the whole task. */
  taskStatus(task: TaskRow): TaskStatus {
    const basic = JSON.parse(task.basic_info) as TaskBasicInfo;
    const subs = this.store.subtasks(task.task_id);
    const progress = subs.length ? Math.round(subs.reduce((s, x) => s + x.progress, 0) / subs.length) : 0;
    const st: TaskStatus = { TaskID: task.task_id, TaskName: basic.TaskName, ExecutionStatus: task.status as TaskStatus['ExecutionStatus'], Progress: progress,
      ResourcesOccupied: { Results: this.store.resultCount(task.task_id) } };
    if (basic.TaskType !== undefined) st.TaskType = basic.TaskType;
    if (task.exception_code !== null) st.ExceptionCode = task.exception_code;
    if (task.exception_desc) st.ExceptionDesc = cutUtf8(task.exception_desc, EXCEPTION_DESC_MAX_BYTES);
    return st;
  }

  private notifyStatus(taskId: string): void {
    const task = this.store.task(taskId);
    if (!task) return;
    const url = this.notifyUrl(task);
    const status = this.taskStatus(task);
    if (url) this.notifier.push(url, { method: 'PATCH', path: '/System/TaskStatus/', body: { DeviceID: this.o.deviceId, TaskStatusList: [status] }, key: notifyKey(this.notifySecret, taskId) });
    this.mqtt?.publish(taskId, 'status', status);
  }

  // ---- results (S6, SD2) ---------------------------------------------------------------

  /** Stores a task_result (once per sender + CommandIdx) and forwards it to the initiator. */
  onTaskResult(cmd: TaskResult, sender: string, fromDevice?: string): { ok: true } | { ok: false; message: string } {
    const body: TaskResultBody = cmd.MessageBody;
    const sub = this.store.subtask(body.TaskID);
    // A device session sends results only for subtasks it runs now (issue 10: no forged results).
    if (fromDevice !== undefined && (!sub || sub.device_id !== fromDevice || body.DeviceID !== fromDevice)) {
      return { ok: false, message: `MessageBody.TaskID: "${body.TaskID}" is not a subtask device ${fromDevice} runs (results come only from a subtask's current executor, as itself)` };
    }
    const taskId = sub?.task_id ?? (this.store.task(body.TaskID) ? body.TaskID : undefined);
    if (!taskId) return { ok: false, message: `MessageBody.TaskID: "${body.TaskID}" is not a task of this scheduler` };
    // A quota per task: a runaway or hostile stage cannot fill the disk through one task.
    const quota = this.o.maxResultsPerTask ?? 1_000_000;
    const held = this.resultCounts.get(taskId) ?? this.store.resultCount(taskId);
    if (held >= quota) {
      if (held === quota) { this.o.log.warn({ task: taskId, quota }, 'task reached its result quota; further results are refused'); this.resultCounts.set(taskId, quota + 1); }
      return { ok: false, message: `MessageBody.TaskID: task ${taskId} holds its quota of ${quota} results; no more are stored` };
    }
    const key = cmd.CommandIdx === undefined ? null : `${sender}#${cmd.CommandIdx}`;
    const fresh = this.store.insertResult(taskId, body, key);
    if (fresh) {
      this.resultCounts.set(taskId, held + 1);
      this.mqtt?.publish(taskId, 'results', body);
      const task = this.store.task(taskId)!;
      const url = this.notifyUrl(task);
      if (url) this.notifier.push(url, { method: 'POST', path: '/System/Command', body: { CommandType: CommandType.TaskResult, DeviceID: this.o.deviceId, MessageBody: body }, key: notifyKey(this.notifySecret, taskId) });
    }
    return { ok: true };
  }

  // ---- initiator control (9.7, 9.9) ----------------------------------------------------

  private get controlContext(): ControlContext {
    return { store: this.store, client: this.client, log: this.o.log, deviceId: this.o.deviceId, stopped: this.stopped, updateTaskStatus: (id) => this.updateTaskStatus(id) };
  }

  /** `task_ops_control` to the scheduler: fans out to the subtasks' executors; returns problems. */
  control(list: OpsControl[]): Promise<string[]> {
    return applyControls(this.controlContext, list);
  }

  /** `task_status_query` to the scheduler. */
  queryStatus(body: TaskStatusQuery['MessageBody']): DevTaskStatus[] {
    return queryStatus(this.controlContext, body);
  }

  // ---- read back (Annex A) -------------------------------------------------------------

  /** Table A.1 record with its A.2 subtasks. */
  taskInfo(taskId: string): TaskInfo | undefined {
    const t = this.store.task(taskId);
    if (!t) return undefined;
    const basic = JSON.parse(t.basic_info) as TaskBasicInfo;
    const subs = this.store.subtasks(taskId);
    const fmt = (ms: number) => formatRetinaDateTime(ms);
    const info: TaskInfo = {
      TaskID: t.task_id,
      TaskName: basic.TaskName,
      ExecutionStatus: t.status as TaskInfo['ExecutionStatus'],
      DeviceList: [...new Set(subs.map((s) => s.device_id).filter((d) => d !== '-'))],
      CreateInfo: { CreateTime: fmt(t.created_at), UpdateTime: fmt(t.updated_at), ...(basic.InitiationInfo.Applicant ? { Applicant: basic.InitiationInfo.Applicant } : {}) },
      SubtaskInfoList: subs.map((s): SubtaskInfo => {
        const dev = this.devices.row(s.device_id);
        const status: SubtaskInfo['TaskStatusInfo'] = { ExecutionStatus: s.status as SubtaskInfo['TaskStatusInfo']['ExecutionStatus'], Progress: s.progress };
        if (s.exception_code !== null) status.ExceptionCode = s.exception_code;
        if (s.exception_desc) status.ExceptionDesc = cutUtf8(s.exception_desc, EXCEPTION_DESC_MAX_BYTES);
        return {
          TaskExecutor: { DeviceID: s.device_id === '-' ? '-' : s.device_id, ...(dev ? { DeviceType: dev.device_type } : {}), ...(dev?.device_name ? { DeviceName: dev.device_name } : {}) },
          TaskDispatchInfo: JSON.parse(s.dispatch_info) as TaskDispatchInfo,
          CreateTime: fmt(s.created_at),
          UpdateTime: fmt(s.updated_at),
          TaskStatusInfo: status,
        };
      }),
    };
    if (basic.Desc !== undefined) info.Desc = basic.Desc;
    if (basic.TaskType !== undefined) info.TaskType = basic.TaskType;
    if (basic.Priority !== undefined) info.Priority = basic.Priority;
    if (basic.Constraints !== undefined) info.Constraints = basic.Constraints;
    return info;
  }
}
