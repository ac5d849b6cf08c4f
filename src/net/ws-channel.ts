/**
 * The WebSocket command channel of PROTOCOL.md, for nodes a scheduler cannot reach at their
 * CommandURL (NAT): the node opens `GET /System/Command` on its scheduler as a WebSocket after
 * registering, with its session token; the scheduler sends the same command envelopes down it
 * and the node answers each with the command's reply body, matched by CommandIdx. The node
 * runs what arrives through its own `/System/Command` route (schema, access, de-duplication by
 * sender and CommandIdx: the scheduler's sender identity comes in the upgrade reply's
 * X-Sender-ID header). Knows no role: the hub is keyed by DeviceID, the client delivers text.
 */
import { WebSocket, type RawData } from 'ws';
import type { HttpReply } from './client.ts';

/** The largest message either side takes (a command or a reply: the HTTP reply bound). */
export const CHANNEL_MAX_BYTES = 16 << 20;

type Pending = { resolve(r: HttpReply): void; reject(e: Error): void; timer: NodeJS.Timeout };

/** The scheduler's side: one open channel per device, and the commands waiting for their replies. */
export class ChannelHub {
  private readonly sockets = new Map<string, WebSocket>();
  private readonly pending = new Map<WebSocket, Map<number, Pending>>();

  constructor(private readonly o: { onAttach?(deviceId: string): void } = {}) {}

  /** A device's channel is open (a newer one replaces an older one). */
  attach(deviceId: string, ws: WebSocket): void {
    const old = this.sockets.get(deviceId);
    if (old && old !== ws) old.close(4000, 'replaced by a newer channel');
    this.sockets.set(deviceId, ws);
    const waiting = new Map<number, Pending>();
    this.pending.set(ws, waiting);
    ws.on('message', (data: RawData) => this.onReply(waiting, data));
    ws.on('close', () => {
      if (this.sockets.get(deviceId) === ws) this.sockets.delete(deviceId);
      this.pending.delete(ws);
      for (const p of waiting.values()) { clearTimeout(p.timer); p.reject(new Error(`command channel of ${deviceId} closed`)); }
      waiting.clear();
    });
    ws.on('error', () => ws.terminate());
    this.o.onAttach?.(deviceId);
  }

  has(deviceId: string): boolean {
    return this.sockets.get(deviceId)?.readyState === WebSocket.OPEN;
  }

  /** Sends one envelope down the device's channel; resolves with its reply (as an HTTP 200 reply would). */
  request(deviceId: string, envelope: Record<string, unknown>, timeoutMs: number): Promise<HttpReply> {
    const ws = this.sockets.get(deviceId);
    const waiting = ws && this.pending.get(ws);
    const idx = envelope.CommandIdx;
    if (!ws || !waiting || ws.readyState !== WebSocket.OPEN) return Promise.reject(new Error(`no command channel open to ${deviceId}`));
    if (typeof idx !== 'number' || waiting.has(idx)) return Promise.reject(new Error(`CommandIdx: a channel command needs a CommandIdx not already waiting (${String(idx)})`));
    return new Promise<HttpReply>((resolve, reject) => {
      const timer = setTimeout(() => { waiting.delete(idx); reject(new Error(`${String(envelope.CommandType)} to ${deviceId} over its command channel: no reply within ${timeoutMs} ms`)); }, timeoutMs);
      timer.unref();
      waiting.set(idx, { resolve, reject, timer });
      ws.send(JSON.stringify(envelope), (err) => {
        if (!err) return;
        clearTimeout(timer);
        waiting.delete(idx);
        reject(err);
      });
    });
  }

  private onReply(waiting: Map<number, Pending>, data: RawData): void {
    let body: unknown;
    try { body = JSON.parse(data.toString()); } catch { return; }
    const idx = (body as { CommandIdx?: unknown } | null)?.CommandIdx;
    const p = typeof idx === 'number' ? waiting.get(idx) : undefined;
    if (!p) return; // late (timed out) or unknown: nobody waits for it
    waiting.delete(idx as number);
    clearTimeout(p.timer);
    p.resolve({ status: 200, body, headers: {} });
  }

  close(): void {
    for (const ws of this.sockets.values()) ws.close(1001, 'scheduler stopping');
    this.sockets.clear();
  }
}

export interface ChannelClientOptions {
  /** The scheduler's base URL (http or https): the channel is its `/System/Command`. A function: read at each (re)connect (the replica the session uses now). */
  url: string | (() => string);
  /** The session token the channel authenticates with (undefined until registered). */
  token(): string | undefined;
  /** Whether the session is registered (the channel opens only then). */
  ready(): boolean;
  /** Runs one command text through the node's own command route; resolves with the reply body. */
  deliver(text: string, schedulerSender: string): Promise<unknown>;
  ca?: Buffer;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void };
}

/** The node's side: keeps the channel open (reconnecting with capped backoff) and answers what comes down it. */
export class ChannelClient {
  private ws: WebSocket | null = null;
  private timer: NodeJS.Timeout | null = null;
  private delay = 250;
  private stopped = false;

  constructor(private readonly o: ChannelClientOptions) {}

  start(): void {
    this.connect();
  }

  get open(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  private later(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => { this.timer = null; this.connect(); }, this.delay);
    this.timer.unref();
    this.delay = Math.min(this.delay * 2, 10_000);
  }

  private connect(): void {
    if (this.stopped) return;
    const token = this.o.token();
    if (!this.o.ready() || !token) { this.later(); return; }
    const base = typeof this.o.url === 'string' ? this.o.url : this.o.url();
    const url = `${base.replace(/^http/, 'ws')}/System/Command`;
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, maxPayload: CHANNEL_MAX_BYTES, handshakeTimeout: 10_000, ...(this.o.ca ? { ca: this.o.ca } : {}) });
    this.ws = ws;
    let sender = 'channel';
    ws.on('upgrade', (res) => { const h = res.headers['x-sender-id']; if (typeof h === 'string' && h.length <= 200) sender = h; });
    ws.on('open', () => { this.delay = 250; this.o.log.info({ url }, 'command channel open'); });
    ws.on('message', (data: RawData) => {
      void this.o.deliver(data.toString(), sender).then((reply) => { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(reply)); },
        (err: Error) => this.o.log.warn({ err: err.message }, 'command over the channel failed'));
    });
    ws.on('error', (err) => this.o.log.warn({ err: err.message, url }, 'command channel error'));
    ws.on('close', () => { if (this.ws === ws) this.ws = null; this.later(); });
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.ws?.close(1000, 'stopping');
  }
}
