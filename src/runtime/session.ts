/**
 * The executor's session with its scheduler (EM1, EM2, B4, ER2): Register with Digest auth,
 * Keepalive at the interval the scheduler gives, periodic clock correction from
 * `GET /System/Time`, resource reports, and UnRegister on shutdown. A lost scheduler is
 * retried with capped backoff; a scheduler that forgot us (restart) is registered with again.
 * With several replicas (issue 14) the session uses one at a time: when it stops answering
 * (no connection, timeout, HTTP 5xx) the next one is registered with, round robin, with the
 * backoff only once each has failed in turn. Replies' leader epochs go to the fence.
 */
import { joinUrl, PeerError, type HttpReply, type RetinaClient } from '../net/client.ts';
import { EPOCH_HEADER } from '../net/epoch.ts';
import { parse, RegisterReply, SystemTimeReply, type DeviceType } from '../protocol/index.ts';
import type { Logger } from '../log.ts';
import type { CorrectedClock } from './clock.ts';
import type { ResourceMonitor } from './resources.ts';
import type { SchedulerReplicas } from './replicas.ts';
import { repeat, type Repeater } from '../net/retry.ts';

/** A replica that answered Register with HTTP 5xx: it is there but cannot serve (a follower without its leader). */
class ReplicaUnavailable extends Error {}

/** True when a call's failure means the replica did not answer (rather than answered no). */
function unanswered(err: unknown): boolean {
  return err instanceof PeerError || err instanceof ReplicaUnavailable;
}

export interface SessionOptions {
  /** The scheduler, or its replicas in the order they are tried. */
  replicas: SchedulerReplicas;
  deviceId: string;
  deviceType: DeviceType;
  productType: string;
  deviceName?: string;
  commandUrl: string;
  longitude?: string;
  latitude?: string;
  /** The node token: Digest password at Register. */
  token?: string;
  client: RetinaClient;
  clock: CorrectedClock;
  monitor: ResourceMonitor;
  log: Logger;
  timeSyncMs?: number;
  resourceReportMs?: number;
  /** Where the leader epochs of Register and Keepalive replies go (the fence). */
  epoch?: { observe(header: string | string[] | undefined, from: string): void };
}

export class SchedulerSession {
  private keepaliveMs = 5000;
  private readonly jobs: Repeater[] = [];
  private registering: Promise<void> | null = null;
  private stopped = false;
  registered = false;
  schedulerId?: string;

  constructor(private readonly o: SessionOptions) {}

  /** The replica the session uses now: keepalives, time sync and reports go there. */
  get schedulerUrl(): string {
    return this.o.replicas.current;
  }

  /** Registers (retrying until it works or stop()), then runs the periodic jobs. */
  async start(): Promise<void> {
    await this.ensureRegistered();
    this.every(() => this.keepaliveMs, () => this.keepalive());
    this.every(() => this.o.timeSyncMs ?? 30_000, () => this.syncTime());
    this.every(() => this.o.resourceReportMs ?? 10_000, () => this.reportAvailable());
  }

  private every(ms: () => number, fn: () => Promise<void>): void {
    this.jobs.push(repeat(ms, fn, (err) => this.o.log.debug({ err }, 'session job failed')));
  }

  /** Registers once; concurrent callers share the attempt. */
  ensureRegistered(): Promise<void> {
    this.registering ??= this.registerLoop().finally(() => { this.registering = null; });
    return this.registering;
  }

  /**
   * Until registered or stopped: a replica that does not answer is left for the next one at
   * once; the capped backoff (250 ms … 10 s) comes when each has failed in turn, or when one
   * answered no (a refusal is not fail-over: it stays with that replica, as with one scheduler).
   */
  private async registerLoop(): Promise<void> {
    const n = this.o.replicas.urls.length;
    let delay = 250;
    let failed = 0;
    while (!this.stopped) {
      const at = this.schedulerUrl;
      try {
        await this.register();
        return;
      } catch (err) {
        const gone = unanswered(err);
        const pause = !gone || ++failed % n === 0;
        this.o.log.warn({ scheduler: at, err: (err as Error).message, retryInMs: pause ? delay : 0 }, 'register with scheduler failed');
        if (gone && n > 1) this.switchReplica((err as Error).message);
        if (pause) {
          await new Promise((r) => setTimeout(r, delay).unref());
          delay = Math.min(delay * 2, 10_000);
        }
      }
    }
  }

  /** Leaves the current replica for the next: logged, registered again there (our session token may mean nothing to it). */
  private switchReplica(why: string): void {
    const from = this.schedulerUrl;
    const to = this.o.replicas.advance();
    this.registered = false;
    if (this.o.token) this.o.client.setToken(this.o.token);
    this.o.log.warn({ from, to, why }, 'scheduler replica did not answer: switching to the next');
  }

  /** The replica `from` stopped answering (a keepalive): the next one is registered with, unless another call switched already. */
  private async failOver(from: string, why: string): Promise<void> {
    if (this.stopped || this.schedulerUrl !== from) return;
    this.switchReplica(why);
    await this.ensureRegistered();
  }

  private observeEpoch(r: HttpReply, from: string): void {
    this.o.epoch?.observe(r.headers[EPOCH_HEADER.toLowerCase()], from);
  }

  private async register(): Promise<void> {
    const body = {
      RegisterObject: {
        DeviceID: this.o.deviceId,
        DeviceType: this.o.deviceType,
        ProductType: this.o.productType,
        CommandURL: this.o.commandUrl,
        ...(this.o.deviceName ? { DeviceName: this.o.deviceName } : {}),
        ...(this.o.longitude ? { Longitude: this.o.longitude } : {}),
        ...(this.o.latitude ? { Latitude: this.o.latitude } : {}),
      },
    };
    const at = this.schedulerUrl;
    const url = joinUrl(at, '/System/Register');
    const r = this.o.token
      ? await this.o.client.sendDigest(url, body, this.o.deviceId, this.o.token)
      : await this.o.client.send('POST', url, body);
    const reply = parse(RegisterReply, r.body);
    if (r.status !== 200 || !reply.ok || reply.value.StatusCode !== '0') {
      const msg = reply.ok ? reply.value.Message : JSON.stringify(r.body)?.slice(0, 200);
      throw new (r.status >= 500 ? ReplicaUnavailable : Error)(`Register refused (HTTP ${r.status}): ${msg ?? ''}`);
    }
    this.observeEpoch(r, at);
    this.keepaliveMs = (reply.value.KeepaliveInterval ?? 5) * 1000;
    if (reply.value.SessionToken) this.o.client.setToken(reply.value.SessionToken);
    this.schedulerId = reply.value.SchedulerID;
    this.registered = true;
    this.o.log.info({ scheduler: at, keepaliveMs: this.keepaliveMs }, 'registered with scheduler');
    await this.syncTime().catch(() => undefined);
    await this.reportTotal().catch((err: Error) => this.o.log.warn({ err: err.message }, 'TotalResource report failed'));
    // The decode self-benchmark finishes later (first start only): report again with its figures.
    void this.o.monitor.measureVideo(() => void this.reportTotal().catch(() => undefined));
    await this.reportAvailable().catch(() => undefined);
  }

  private async keepalive(): Promise<void> {
    const at = this.schedulerUrl;
    let r: HttpReply;
    try {
      r = await this.o.client.send('POST', joinUrl(at, '/System/Keepalive'), { KeepaliveObject: { DeviceID: this.o.deviceId } });
    } catch (err) {
      // One scheduler: wait for it on the next keepalive, as ever. Replicas: the next one.
      if (this.o.replicas.many && unanswered(err)) return this.failOver(at, `Keepalive: ${(err as Error).message}`);
      throw err;
    }
    this.observeEpoch(r, at);
    if (this.o.replicas.many && r.status >= 500) return this.failOver(at, `Keepalive: HTTP ${r.status}`);
    if (r.status === 401 || r.status === 404 || (r.body as { StatusCode?: string })?.StatusCode === '1') {
      // The scheduler restarted or dropped us: log in again (and drop a stale session token).
      this.registered = false;
      if (this.o.token) this.o.client.setToken(this.o.token);
      await this.ensureRegistered();
    }
  }

  /** Measures the clock offset to the scheduler (B4). */
  async syncTime(): Promise<void> {
    const sent = Date.now();
    const r = await this.o.client.send('GET', joinUrl(this.schedulerUrl, '/System/Time'));
    const received = Date.now();
    const t = parse(SystemTimeReply, r.body);
    if (t.ok) this.o.clock.observe(t.value.SystemTimeObject.UnixMs, sent, received);
  }

  /** Sends TotalResource now (after an install, the self-benchmark …). */
  async reportTotal(): Promise<void> {
    const total = await this.o.monitor.total();
    await this.o.client.send('PATCH', joinUrl(this.schedulerUrl, '/System/ResourceInfo/TotalResource'), total);
  }

  private async reportAvailable(): Promise<void> {
    if (!this.registered) return;
    const avail = await this.o.monitor.available();
    await this.o.client.send('PATCH', joinUrl(this.schedulerUrl, '/System/ResourceInfo/AvailableResource'), avail);
  }

  /** Stops the jobs and logs out (best effort, bounded). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const j of this.jobs) j.stop();
    if (!this.registered) return;
    try {
      await Promise.race([
        this.o.client.send('POST', joinUrl(this.schedulerUrl, '/System/UnRegister'), { UnRegisterObject: { DeviceID: this.o.deviceId } }),
        new Promise((r) => setTimeout(r, 2000).unref()),
      ]);
      this.o.log.info('unregistered from scheduler');
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'UnRegister failed');
    }
    this.registered = false;
  }
}
