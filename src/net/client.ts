/**
 * The HTTP client every role uses to speak to another node: JSON in and out, the bearer token,
 * our sender identity for command de-duplication, and timeouts so a dead peer never hangs us.
 */
import { rootCertificates } from 'node:tls';
import { Agent, request } from 'undici';
import { parse, type CommandOf, type CommandType, type Static, type TSchema } from '../protocol/index.ts';
import { digestAuthorization } from './digest.ts';
import { CommandRefused, PeerError } from './errors.ts';
import { joinUrl } from './url.ts';

export { PeerError, CommandRefused } from './errors.ts';
export { joinUrl, baseUrl } from './url.ts';

export interface ClientOptions {
  token?: string;
  /** `DeviceID/instance`, sent as X-Sender-ID. */
  senderId: string;
  timeoutMs?: number;
  /** Largest reply body read, in bytes (default REPLY_MAX_BYTES); a larger one is cut off while it streams. */
  maxReplyBytes?: number;
  /**
   * Awaited before every request: a scheduler replica sends nothing that rests on writes its
   * shared store has not yet made durable (and nothing at all once it may no longer write).
   */
  beforeSend?: () => Promise<void>;
}

/**
 * Replies of the standard's commands are small (a few KiB; a full algorithm list a few hundred).
 * A peer — or a NotifyURL from a request — answering with hundreds of MB must not be buffered.
 */
export const REPLY_MAX_BYTES = 16 << 20;

/** Reads a reply body up to `max` bytes; past that the transfer is aborted and an error names the limit. */
export async function readCapped(body: AsyncIterable<Buffer> & { destroy(err?: Error): unknown }, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    n += c.length;
    if (n > max) {
      body.destroy();
      throw new Error(`reply is over ${max} bytes`);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks, n).toString('utf8');
}

export interface HttpReply {
  status: number;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

/** A request body that is JSON text already (the outbox's stored message): sent as it is, not serialised again. */
export class JsonText {
  constructor(readonly text: string) {}
}

/** A command as its sender writes it: the client numbers it (CommandIdx). */
export type OutgoingCommand<K extends CommandType> = Omit<CommandOf<K>, 'CommandIdx'>;

/** CA certificates (PEM) that peers' TLS certificates are verified against besides the system's. */
let trustedCa: Buffer | undefined;

/** Sets the process-wide extra CA (`--tls-ca`); clients made afterwards use it. */
export function setTrustedCa(ca: Buffer | undefined): void {
  trustedCa = ca;
}

/** The extra CA set with `setTrustedCa` (the command channel verifies the scheduler with it too). */
export function getTrustedCa(): Buffer | undefined {
  return trustedCa;
}

/** Another way to a node's `/System/Command` (its WebSocket command channel), by the node's base URL. */
export type CommandChannel = (baseUrl: string) => ((envelope: Record<string, unknown>) => Promise<HttpReply>) | undefined;

/** Errors that mean the peer could not be connected to at all (as behind NAT), not that it failed. */
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT']);
function connectFailed(err: unknown): boolean {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  return CONNECT_FAILURES.has(String(e.code)) || CONNECT_FAILURES.has(String(e.cause?.code));
}

/** A keep-alive JSON client. */
export class RetinaClient {
  private readonly agent: Agent;
  private nextIdx = 1;
  private channel: CommandChannel | undefined;
  constructor(private readonly opts: ClientOptions) {
    // With --tls-ca, peers are verified against that CA as well as the system store (https only).
    this.agent = new Agent({ keepAliveTimeout: 10_000, connections: 32, ...(trustedCa ? { connect: { ca: [...rootCertificates, trustedCa.toString('utf8')] } } : {}) });
  }

  /** Next CommandIdx for commands this node sends (unique per sender identity). */
  commandIdx(): number {
    const i = this.nextIdx;
    this.nextIdx = this.nextIdx >= 2147483647 ? 1 : this.nextIdx + 1;
    return i;
  }

  /** Our sender identity (X-Sender-ID). */
  get senderId(): string {
    return this.opts.senderId;
  }

  /** Commands that cannot connect over HTTP go down this channel when it has one for the node (NAT). */
  setCommandChannel(channel: CommandChannel | undefined): void {
    this.channel = channel;
  }

  /** The bearer token in use. */
  get token(): string | undefined {
    return this.opts.token;
  }

  private readonly fixed: Record<string, string> = {};

  /** A header sent with every request from now on (a replica's X-Retinad-Epoch); undefined removes it. */
  setHeader(name: string, value: string | undefined): void {
    if (value === undefined) delete this.fixed[name.toLowerCase()]; else this.fixed[name.toLowerCase()] = value;
  }

  /** Sets the bearer token (after registration hands out a session token). */
  setToken(token: string | undefined): void {
    this.opts.token = token;
  }

  /** Sends one request; rejects with PeerError on network failure, timeout or a non-JSON reply. */
  async send(method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<HttpReply> {
    if (this.opts.beforeSend) await this.opts.beforeSend();
    const headers: Record<string, string> = { 'x-sender-id': this.opts.senderId, accept: 'application/json', ...this.fixed, ...extraHeaders };
    // An explicit Authorization (Digest, or '' for none) replaces the bearer token.
    if (!('authorization' in extraHeaders) && this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    if (headers.authorization === '') delete headers.authorization;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = body instanceof JsonText ? body.text : JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    const timeout = this.opts.timeoutMs ?? 15_000;
    let res;
    try {
      res = await request(url, { method, headers, body: payload, dispatcher: this.agent, headersTimeout: timeout, bodyTimeout: timeout });
    } catch (err) {
      // A node we cannot connect to may have opened its command channel to us: same envelope there.
      const via = method === 'POST' && url.endsWith('/System/Command') && connectFailed(err) && body !== undefined && !(body instanceof JsonText)
        ? this.channel?.(url.slice(0, -'/System/Command'.length)) : undefined;
      if (via) return via(body as Record<string, unknown>).catch((e: Error) => { throw new PeerError(`${method} ${url}: ${(err as Error).message}; command channel: ${e.message}`); });
      throw new PeerError(`${method} ${url}: ${(err as Error).message}`);
    }
    const text = await readCapped(res.body, this.opts.maxReplyBytes ?? REPLY_MAX_BYTES).catch((err: Error) => {
      throw new PeerError(`${method} ${url}: reading reply: ${err.message}`, res.statusCode);
    });
    let parsed: unknown;
    try {
      parsed = text.length ? JSON.parse(text) : undefined;
    } catch {
      throw new PeerError(`${method} ${url}: reply is not JSON (HTTP ${res.statusCode})`, res.statusCode, text.slice(0, 200));
    }
    return { status: res.statusCode, body: parsed, headers: res.headers as HttpReply['headers'] };
  }

  /** POSTs with Digest authentication: first try, read the challenge, answer it. */
  async sendDigest(url: string, body: unknown, username: string, password: string): Promise<HttpReply> {
    const first = await this.send('POST', url, body, { authorization: '' });
    if (first.status !== 401) return first;
    const challenge = first.headers['www-authenticate'];
    if (!challenge) return first;
    const uri = new URL(url).pathname;
    const auth = digestAuthorization(challenge, { username, password, method: 'POST', uri });
    return this.send('POST', url, body, { authorization: auth });
  }

  /**
   * Sends a command to a node's `/System/Command` and returns its reply, validated by `Reply`.
   * Rejects with CommandRefused when the peer answered StatusCode "1", and with PeerError when it
   * could not be reached or its reply is not what `Reply` describes. `commandIdx`: the same one
   * for every attempt of one delivery, so the receiver counts a repeat once.
   */
  async sendCommand<K extends CommandType, S extends TSchema>(baseUrl: string, command: OutgoingCommand<K>, Reply: S, commandIdx = this.commandIdx()): Promise<Static<S>> {
    const r = await this.send('POST', joinUrl(baseUrl, '/System/Command'), { ...command, CommandIdx: commandIdx });
    const b = r.body as { StatusCode?: unknown; Message?: unknown } | undefined;
    // A refusal need not carry the reply's lists, so it is read before the schema is applied.
    if (b && typeof b === 'object' && b.StatusCode === '1') throw new CommandRefused(typeof b.Message === 'string' && b.Message ? b.Message : 'refused', r.status);
    const p = parse(Reply, r.body);
    if (!p.ok) throw new PeerError(`${command.CommandType} to ${baseUrl}: answered badly (HTTP ${r.status}): ${p.message}`, r.status, r.body);
    return p.value;
  }

  /** Sends a command envelope as it is (no CommandIdx added, no validation) and returns the reply body. */
  async command<R = Record<string, unknown>>(baseUrl: string, cmd: Record<string, unknown>): Promise<R & { StatusCode: string; Message?: string }> {
    const r = await this.send('POST', joinUrl(baseUrl, '/System/Command'), cmd);
    const b = r.body as (R & { StatusCode: string; Message?: string }) | undefined;
    if (!b || typeof b !== 'object') throw new PeerError(`${String(cmd.CommandType)} to ${baseUrl}: empty reply (HTTP ${r.status})`, r.status);
    return b;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
