/**
 * The executor's session with its scheduler (EM1, EM2, B4, ER2): Register with Digest auth,
 * Keepalive at the interval the scheduler gives, periodic clock correction from
 * `GET /System/Time`, resource reports, and UnRegister on shutdown. A lost scheduler is
 * retried with capped backoff; a scheduler that forgot us (restart) is registered with again.
 */
import { joinUrl, type RetinaClient } from '../net/client.ts';
import { parse, RegisterReply, SystemTimeReply, type DeviceType } from '../protocol/index.ts';
import type { Logger } from '../log.ts';
import type { CorrectedClock } from './clock.ts';
import type { ResourceMonitor } from './resources.ts';
import { repeat, retryUntilDone, type Repeater } from '../net/retry.ts';

export interface SessionOptions {
  schedulerUrl: string;
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
}

export class SchedulerSession {
  private keepaliveMs = 5000;
  private readonly jobs: Repeater[] = [];
  private registering: Promise<void> | null = null;
  private stopped = false;
  registered = false;
  schedulerId?: string;

  constructor(private readonly o: SessionOptions) {}

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

  private registerLoop(): Promise<void> {
    return retryUntilDone(() => this.register(), {
      stopped: () => this.stopped,
      failed: (err, retryInMs) => this.o.log.warn({ err: err.message, retryInMs }, 'register with scheduler failed'),
    });
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
    const url = joinUrl(this.o.schedulerUrl, '/System/Register');
    const r = this.o.token
      ? await this.o.client.sendDigest(url, body, this.o.deviceId, this.o.token)
      : await this.o.client.send('POST', url, body);
    const reply = parse(RegisterReply, r.body);
    if (r.status !== 200 || !reply.ok || reply.value.StatusCode !== '0') {
      const msg = reply.ok ? reply.value.Message : JSON.stringify(r.body)?.slice(0, 200);
      throw new Error(`Register refused (HTTP ${r.status}): ${msg ?? ''}`);
    }
    this.keepaliveMs = (reply.value.KeepaliveInterval ?? 5) * 1000;
    if (reply.value.SessionToken) this.o.client.setToken(reply.value.SessionToken);
    this.schedulerId = reply.value.SchedulerID;
    this.registered = true;
    this.o.log.info({ scheduler: this.o.schedulerUrl, keepaliveMs: this.keepaliveMs }, 'registered with scheduler');
    await this.syncTime().catch(() => undefined);
    await this.reportTotal().catch((err: Error) => this.o.log.warn({ err: err.message }, 'TotalResource report failed'));
    // The decode self-benchmark finishes later (first start only): report again with its figures.
    void this.o.monitor.measureVideo(() => void this.reportTotal().catch(() => undefined));
    await this.reportAvailable().catch(() => undefined);
  }

  private async keepalive(): Promise<void> {
    const r = await this.o.client.send('POST', joinUrl(this.o.schedulerUrl, '/System/Keepalive'), { KeepaliveObject: { DeviceID: this.o.deviceId } });
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
    const r = await this.o.client.send('GET', joinUrl(this.o.schedulerUrl, '/System/Time'));
    const received = Date.now();
    const t = parse(SystemTimeReply, r.body);
    if (t.ok) this.o.clock.observe(t.value.SystemTimeObject.UnixMs, sent, received);
  }

  /** Sends TotalResource now (after an install, the self-benchmark …). */
  async reportTotal(): Promise<void> {
    const total = await this.o.monitor.total();
    await this.o.client.send('PATCH', joinUrl(this.o.schedulerUrl, '/System/ResourceInfo/TotalResource'), total);
  }

  private async reportAvailable(): Promise<void> {
    if (!this.registered) return;
    const avail = await this.o.monitor.available();
    await this.o.client.send('PATCH', joinUrl(this.o.schedulerUrl, '/System/ResourceInfo/AvailableResource'), avail);
  }

  /** Stops the jobs and logs out (best effort, bounded). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const j of this.jobs) j.stop();
    if (!this.registered) return;
    try {
      await Promise.race([
        this.o.client.send('POST', joinUrl(this.o.schedulerUrl, '/System/UnRegister'), { UnRegisterObject: { DeviceID: this.o.deviceId } }),
        new Promise((r) => setTimeout(r, 2000).unref()),
      ]);
      this.o.log.info('unregistered from scheduler');
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'UnRegister failed');
    }
    this.registered = false;
  }
}
