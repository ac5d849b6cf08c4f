/**
 * Clause 5.2: a lower scheduler's session with its upper scheduler (`--upstream URL`). It logs
 * in as a device of its level (Register with Digest, the node token as password: the upstream
 * URL is a configured peer, so the token may go there), keeps alive at the interval the upper
 * one gives, and reports its site's aggregate TotalResource / AvailableResource whenever they —
 * or the union of its executors' algorithms — change. A TotalResource report makes the upper
 * scheduler ask for the algorithm list again (SR3), so a changed union travels that way.
 * An upper scheduler that forgot us (restart) is registered with again.
 */
import { RetinaClient, joinUrl } from '../../net/client.ts';
import { parse, RegisterReply, type AvailableResource, type DeviceType, type TotalResource } from '../../protocol/index.ts';
import type { Logger } from '../../log.ts';
import { SCHEDULER_PRODUCT_TYPE } from './aggregate.ts';
import { repeat, retryUntilDone, type Repeater } from '../../net/retry.ts';

export interface UpstreamOptions {
  upstreamUrl: string;
  deviceId: string;
  deviceType: DeviceType;
  /** This scheduler's URL: where the upper one sends its commands. */
  commandUrl: string;
  token?: string;
  longitude?: string;
  latitude?: string;
  log: Logger;
  /** The site's reports now; `algs` is a signature of the algorithm union (reported with TotalResource). */
  reports(): { total: TotalResource; available: AvailableResource; algs: string };
  /** How often the reports are compared with what was last sent (default 1 s). */
  reportCheckMs?: number;
}

export class UpstreamSession {
  /** Speaks to the upper scheduler only: the node token at Register, the session token after. */
  readonly client: RetinaClient;
  private keepaliveMs = 5000;
  private readonly jobs: Repeater[] = [];
  private registering: Promise<void> | null = null;
  private stopped = false;
  private sentTotal = '';
  private sentAvailable = '';
  registered = false;
  upperId?: string;

  constructor(private readonly o: UpstreamOptions) {
    this.client = new RetinaClient({ token: o.token, senderId: `${o.deviceId}/up-${process.pid}`, timeoutMs: 10_000 });
  }

  get url(): string {
    return this.o.upstreamUrl;
  }

  /** Registers in the background (retrying with backoff), then keeps alive and reports. */
  start(): void {
    // The jobs start once registered: the first keepalive then comes at the interval the upper
    // scheduler gave, not at our default (with a short interval it would find us silent).
    void this.ensureRegistered().then(() => {
      if (this.stopped) return;
      this.every(() => this.keepaliveMs, () => this.keepalive());
      this.every(() => this.o.reportCheckMs ?? 1000, () => this.report(false));
    });
  }

  private every(ms: () => number, fn: () => Promise<void>): void {
    this.jobs.push(repeat(ms, fn, (err) => this.o.log.debug({ err: err.message }, 'upstream job failed')));
  }

  /** Registers once; concurrent callers share the attempt. */
  ensureRegistered(): Promise<void> {
    this.registering ??= this.registerLoop().finally(() => { this.registering = null; });
    return this.registering;
  }

  private registerLoop(): Promise<void> {
    return retryUntilDone(() => this.register(), {
      stopped: () => this.stopped,
      failed: (err, retryInMs) => this.o.log.warn({ err: err.message, retryInMs }, 'register with upper scheduler failed'),
    });
  }

  private async register(): Promise<void> {
    const body = { RegisterObject: { DeviceID: this.o.deviceId, DeviceType: this.o.deviceType, ProductType: SCHEDULER_PRODUCT_TYPE, CommandURL: this.o.commandUrl,
      ...(this.o.longitude ? { Longitude: this.o.longitude } : {}), ...(this.o.latitude ? { Latitude: this.o.latitude } : {}) } };
    const url = joinUrl(this.o.upstreamUrl, '/System/Register');
    if (this.o.token) this.client.setToken(this.o.token);
    const r = this.o.token ? await this.client.sendDigest(url, body, this.o.deviceId, this.o.token) : await this.client.send('POST', url, body);
    const reply = parse(RegisterReply, r.body);
    if (r.status !== 200 || !reply.ok || reply.value.StatusCode !== '0') {
      const msg = reply.ok ? reply.value.Message : JSON.stringify(r.body)?.slice(0, 200);
      throw new Error(`Register refused (HTTP ${r.status}): ${msg ?? ''}`);
    }
    this.keepaliveMs = (reply.value.KeepaliveInterval ?? 5) * 1000;
    if (reply.value.SessionToken) this.client.setToken(reply.value.SessionToken);
    this.upperId = reply.value.SchedulerID;
    this.registered = true;
    this.o.log.info({ upstream: this.o.upstreamUrl, upper: this.upperId, keepaliveMs: this.keepaliveMs }, 'registered with upper scheduler');
    await this.report(true).catch((err: Error) => this.o.log.warn({ err: err.message }, 'first report to upper scheduler failed'));
  }

  private async keepalive(): Promise<void> {
    if (!this.registered) return;
    const r = await this.client.send('POST', joinUrl(this.o.upstreamUrl, '/System/Keepalive'), { KeepaliveObject: { DeviceID: this.o.deviceId } });
    if (r.status === 401 || r.status === 404 || (r.body as { StatusCode?: string } | undefined)?.StatusCode === '1') await this.lost();
  }

  /** The upper scheduler does not know us (it restarted, or dropped us): log in again. */
  async lost(): Promise<void> {
    this.registered = false;
    this.sentTotal = '';
    this.sentAvailable = '';
    await this.ensureRegistered();
  }

  /** Sends the reports that changed since they were last sent (all of them when `force`). */
  private async report(force: boolean): Promise<void> {
    if (!this.registered) return;
    const { total, available, algs } = this.o.reports();
    const t = JSON.stringify(total) + algs;
    if (force || t !== this.sentTotal) {
      const r = await this.client.send('PATCH', joinUrl(this.o.upstreamUrl, '/System/ResourceInfo/TotalResource'), total);
      if (r.status === 401) return this.lost();
      this.sentTotal = t;
    }
    const a = JSON.stringify(available);
    if (force || a !== this.sentAvailable) {
      const r = await this.client.send('PATCH', joinUrl(this.o.upstreamUrl, '/System/ResourceInfo/AvailableResource'), available);
      if (r.status === 401) return this.lost();
      this.sentAvailable = a;
    }
  }

  /** Stops the jobs and logs out (best effort, bounded). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const j of this.jobs) j.stop();
    if (this.registered) {
      await Promise.race([
        this.client.send('POST', joinUrl(this.o.upstreamUrl, '/System/UnRegister'), { UnRegisterObject: { DeviceID: this.o.deviceId } }).catch(() => undefined),
        new Promise((r) => setTimeout(r, 2000).unref()),
      ]);
      this.registered = false;
    }
    await this.client.close();
  }
}
