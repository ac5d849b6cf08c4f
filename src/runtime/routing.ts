/**
 * Where a task's results and status go (ED1, ED3, EM4, M2): each DstDevice's OutputURL, else
 * the scheduler; how each is delivered (the outbox's sender); and a task re-pointed when the
 * scheduler moved the stage that consumes its results, with a replay of what that stage lost.
 * Scheduler replicas (issue 14): what goes to one is queued under the first configured URL, and
 * a replica that does not answer is left for the session's current one, or the next.
 */
import type { TaskDispatchInfo } from '../protocol/index.ts';
import { baseUrl, joinUrl, JsonText, PeerError, type HttpReply, type RetinaClient } from '../net/client.ts';
import { deliveryOutcome, type DeliveryOutcome } from '../net/delivery.ts';
import type { Logger } from '../log.ts';
import type { ExecTask } from './exec-task.ts';
import type { Outbox, OutboxMessage, QueuedMessage } from './outbox.ts';
import { SchedulerReplicas } from './replicas.ts';
import type { SchedulerSession } from './session.ts';

export interface RoutingOptions {
  deviceId: string;
  /** The scheduler's replicas (one for a single scheduler); none without a scheduler. */
  replicas?: SchedulerReplicas;
  /** The node token: what another executor knows us by. */
  token?: string;
  client: RetinaClient;
  session?: SchedulerSession;
  outbox(): Outbox;
  task(id: string): ExecTask | undefined;
  /** Persists the task. */
  save(t: ExecTask): void;
  closed(): boolean;
  /** Whether a destination may be sent the node token (configured peers, executors the scheduler registered). */
  trusted(dest: string): Promise<boolean>;
  log: Logger;
}

export class Routing {
  /** Destination → the replica its messages go to since the one before did not answer, and how many did not in a row. */
  private readonly moved = new Map<string, { via: string; misses: number }>();

  constructor(private readonly o: RoutingOptions) {}

  /** Where messages to the scheduler are queued (the first configured replica), or undefined without one. */
  get schedulerUrl(): string | undefined {
    return this.o.replicas?.home;
  }

  /** Base URLs results go to: each DstDevice's OutputURL (a replica's own base URL: the scheduler's queue), else the scheduler. */
  destinations(info: TaskDispatchInfo): string[] {
    const out = new Set<string>();
    const scheduler = this.schedulerUrl;
    for (const d of info.DstDeviceList) {
      const b = d.OutputURL ? baseUrl(d.OutputURL) : scheduler;
      if (b !== undefined) out.add(scheduler !== undefined && this.o.replicas?.isBase(b) ? scheduler : b);
    }
    if (!out.size && scheduler !== undefined) out.add(scheduler);
    return [...out];
  }

  /** True when task `taskId` sends to `dest` as to another executor running a next stage, not the scheduler (only those results are kept for a replay). */
  feedsNextStage(dest: string, taskId: string): boolean {
    if (dest === this.schedulerUrl) return false;
    const scheduler = this.o.session?.schedulerId;
    const d = this.o.task(taskId)?.info.DstDeviceList.find((x) => x.OutputURL && baseUrl(x.OutputURL) === dest);
    return !!d && d.DeviceID !== undefined && d.DeviceID !== scheduler;
  }

  /** The outbox's sender: one message to one destination; `seq` numbers a command (CommandIdx). */
  async deliver(dest: string, seq: number, msg: OutboxMessage | QueuedMessage): Promise<DeliveryOutcome> {
    const body = 'bodyJson' in msg ? new JsonText(msg.path === '/System/Command' ? withCommandIdx(msg.bodyJson, seq) : msg.bodyJson)
      : msg.path === '/System/Command' ? { ...msg.body, CommandIdx: seq } : msg.body;
    const replicas = this.o.replicas;
    const replica = replicas?.replicaOf(dest);
    // The scheduler knows our session token; another executor knows only the node token — and
    // only an executor we trust gets it: an OutputURL came in a request, it could be anyone's.
    if (replica === undefined) {
      const auth = this.o.token && (await this.o.trusted(dest)) ? { authorization: `Bearer ${this.o.token}` } : { authorization: '' };
      return deliveryOutcome(await this.o.client.send(msg.method, joinUrl(dest, msg.path), body, auth));
    }
    const to = replicas!.many ? this.target(dest, replica) : dest;
    let r: HttpReply;
    try {
      r = await this.o.client.send(msg.method, joinUrl(to, msg.path), body);
    } catch (err) {
      if (replicas!.many && err instanceof PeerError) return this.missed(dest, to, err.message);
      throw err;
    }
    const out = deliveryOutcome(r);
    if (replicas!.many && r.status >= 500 && !out.ok) return this.missed(dest, to, out.message);
    const m = this.moved.get(dest);
    if (m) m.misses = 0;
    // Only the scheduler's 401 means our session is gone; a peer's says nothing about it.
    if (r.status === 401 && this.o.session) void this.o.session.ensureRegistered();
    return out;
  }

  /** The URL a message to `dest` (on `replica`) goes to now: the scheduler's queue follows the session until a delivery finds a replica silent. */
  private target(dest: string, replica: string): string {
    const via = this.moved.get(dest)?.via ?? (dest === this.schedulerUrl && this.o.session ? this.o.session.schedulerUrl : replica);
    return via === replica ? dest : SchedulerReplicas.rebase(dest, replica, via);
  }

  /**
   * A delivery to `sentTo` found its replica silent (no connection, timeout, 5xx): the next attempt
   * goes to the same path on the session's replica, or the next one if that was it. Nothing queued
   * moves: the rows keep their destination and order, only where they are sent changes.
   */
  private missed(dest: string, sentTo: string, why: string): DeliveryOutcome {
    const replicas = this.o.replicas!;
    const from = replicas.replicaOf(sentTo)!;
    const current = this.o.session?.schedulerUrl;
    const via = current !== undefined && current !== from ? current : replicas.after(from);
    const misses = (this.moved.get(dest)?.misses ?? 0) + 1;
    this.moved.set(dest, { via, misses });
    this.o.log.warn({ dest, from, to: via, why }, 'outbox: scheduler replica did not answer; the next attempt goes to another');
    // On to the next replica at once; once each has missed in turn, the outbox's own backoff.
    return { ok: false, message: why, ...(misses < replicas.urls.length ? { retryInMs: 0 } : {}) };
  }

  /** Queues a status report (EM4) behind the task's results, so order holds. */
  report(t: ExecTask): void {
    if (!this.schedulerUrl || this.o.closed()) return;
    this.o.outbox().enqueue([this.schedulerUrl], t.id, {
      method: 'PATCH', path: '/System/TaskStatus/', body: { DeviceID: this.o.deviceId, TaskStatusList: [t.toStatus()] },
    });
  }

  /**
   * The same task dispatched again with other destinations: the scheduler moved the stage that
   * consumes its results. The task keeps running; what it sends from now on, and what is still
   * queued for the old destination, goes to the new one.
   */
  redirect(t: ExecTask, info: TaskDispatchInfo): void {
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
    const outbox = this.o.outbox();
    const replayed = typeof from === 'number' ? outbox.replay(t.id, after.filter((d) => d !== this.schedulerUrl), from) : 0;
    const moved = same ? 0 : outbox.retarget(t.id, before, after);
    this.o.save(t);
    this.o.log.info({ task: t.id, to: info.DstDeviceList.map((d) => d.DeviceID), moved, replayed }, 'task re-pointed to new destinations');
  }
}

/**
 * `{ ...body, CommandIdx: seq }` on the body's JSON text, without parsing it: the field goes in
 * before the closing brace. A body that has a CommandIdx of its own is parsed, as the spread would.
 */
export function withCommandIdx(bodyJson: string, seq: number): string {
  if (bodyJson.includes('"CommandIdx"')) return JSON.stringify({ ...(JSON.parse(bodyJson) as Record<string, unknown>), CommandIdx: seq });
  const inner = bodyJson.slice(1, -1).trim();
  return `{${inner}${inner ? ',' : ''}"CommandIdx":${seq}}`;
}

/** Same algorithm, input and dependencies: a dispatch of a running task that asks for nothing new but, maybe, destinations. */
export function sameWork(a: TaskDispatchInfo, b: TaskDispatchInfo): boolean {
  return a.AlgModelInfo.AlgID === b.AlgModelInfo.AlgID && a.AlgModelInfo.AlgVersion === b.AlgModelInfo.AlgVersion &&
    (a.InputInfo.StreamURL ?? '') === (b.InputInfo.StreamURL ?? '') &&
    JSON.stringify(a.Dependencies ?? []) === JSON.stringify(b.Dependencies ?? []);
}

function sameDestinations(a: TaskDispatchInfo, b: TaskDispatchInfo): boolean {
  const dst = (x: TaskDispatchInfo) => JSON.stringify(x.DstDeviceList.map((d) => [d.DeviceID ?? '', d.OutputURL ?? '']));
  return dst(a) === dst(b);
}
