/**
 * EC7 (5.3.3 g): algorithm/model versions move between this scheduler's repository and a
 * peer's, both ways. Peers are only those this scheduler was configured with: the upper
 * scheduler of `--upstream` (named by the SchedulerID it answered Register with) and the lower
 * schedulers registered here (ProductType retinad-scheduler, named by DeviceID, reached at their
 * registered CommandURL, as task_dispatch reaches them). A request names a peer, never a URL, so
 * the node token goes nowhere a request chose (issue 10).
 *
 * A pull GETs the peer's package (its AlgFileURL path). A push down asks the lower scheduler to
 * pull from us; a push up uploads over this scheduler's own session with the upper one, which it
 * can always reach (the upper may not reach it: NAT) and which names the sender. Either way the
 * receiving side bounds the size, checks the signature against its own trusted keys before
 * storing anything and records which peer a version came from (RepoEntry.TransferredFrom).
 */
import { Agent, request } from 'undici';
import { rootCertificates } from 'node:tls';
import { RetinaClient, getTrustedCa, joinUrl, baseUrl } from '../../net/client.ts';
import { parse, TRANSFER_MAX_BYTES, TransferReply, type TransferRequest } from '../../protocol/index.ts';
import { PackageError } from '../../plugins/package-file.ts';
import type { Logger } from '../../log.ts';
import { VersionConflict, type AlgorithmRepository } from '../repository.ts';
import type { DeviceRegistry } from '../devices.ts';
import { SCHEDULER_PRODUCT_TYPE } from './aggregate.ts';

/** Transfers under way at once: each may hold a package of up to the bound in memory. */
export const TRANSFERS_AT_ONCE = 2;

/** The longest one download may take, however slowly a peer drips its bytes. */
const DOWNLOAD_DEADLINE_MS = 300_000;

/** A transfer's outcome: the reply, or a refusal with its HTTP status and a Message naming the field. */
export type TransferOutcome = { ok: true; reply: TransferReply } | { ok: false; status: number; message: string };

export interface TransferDeps {
  deviceId: string;
  /** The node token: sent to configured peers only. */
  token?: string;
  repository: AlgorithmRepository;
  devices: DeviceRegistry;
  /** The upper scheduler when configured (`--upstream`): its URL, the SchedulerID and the session token it gave. */
  upstream(): { url: string; upperId?: string; sessionToken?: string } | null;
  log: Logger;
  now(): number;
  maxBytes?: number;
}

const refuse = (status: number, message: string): TransferOutcome => ({ ok: false, status, message });

export class RepositoryTransfer {
  private readonly agent: Agent;
  private readonly client: RetinaClient;
  private running = 0;

  constructor(private readonly d: TransferDeps) {
    const ca = getTrustedCa();
    this.agent = new Agent({ keepAliveTimeout: 10_000, ...(ca ? { connect: { ca: [...rootCertificates, ca.toString('utf8')] } } : {}) });
    // A push waits while the peer pulls (up to the bound): longer than a command's 10 s.
    this.client = new RetinaClient({ token: d.token, senderId: `${d.deviceId}/transfer`, timeoutMs: 120_000 });
  }

  /** The base URL of configured peer `peer`, or why it is not one. */
  private peerUrl(peer: string): { url: string } | { why: string } {
    const up = this.d.upstream();
    if (up && up.upperId === peer) return { url: up.url };
    const row = this.d.devices.row(peer);
    if (row && row.product_type === SCHEDULER_PRODUCT_TYPE && row.command_url && /^https?:\/\//.test(row.command_url)) return { url: baseUrl(row.command_url) };
    // The upper scheduler's ID is known once it answered Register.
    if (up && up.upperId === undefined) return { why: `Peer: "${peer}" is not a lower scheduler here, and the upper scheduler has not answered Register yet` };
    return { why: `Peer: "${peer}" is not a configured peer (the upper scheduler, or a lower one registered here)` };
  }

  /** Runs one request: a pull into this repository, or a push (down: the peer pulls from us; up: an upload). */
  async run(r: TransferRequest): Promise<TransferOutcome> {
    const peer = this.peerUrl(r.Peer);
    if ('why' in peer) return refuse(404, peer.why);
    const up = this.d.upstream();
    return this.guarded(r, () => (r.Direction === 'pull' ? this.pull(r, peer.url) : up?.upperId === r.Peer ? this.pushUp(r, peer.url, up.sessionToken) : this.push(r, peer.url)));
  }

  /**
   * A push up from a lower scheduler (Transfer/Upload): taken only from a device session of a
   * lower scheduler registered here (`sender`, its DeviceID), which becomes TransferredFrom.
   */
  received(sender: string | undefined, want: { AlgID: number; AlgVersion: string }, pkg: Buffer): Promise<TransferOutcome> {
    if (sender === undefined || !this.isLower(sender)) return Promise.resolve(refuse(403, 'Authorization: only a lower scheduler registered here uploads a version (over its device session)'));
    const r: TransferRequest = { ...want, Peer: sender, Direction: 'push' };
    return this.guarded(r, async () => this.store(r, pkg));
  }

  /** Whether `deviceId` is a lower scheduler registered here. */
  isLower(deviceId: string): boolean {
    return this.d.devices.row(deviceId)?.product_type === SCHEDULER_PRODUCT_TYPE;
  }

  /** Runs `work` in one of the TRANSFERS_AT_ONCE slots; a refusal of any kind becomes an outcome naming why. */
  private async guarded(r: TransferRequest, work: () => Promise<TransferOutcome>): Promise<TransferOutcome> {
    if (this.running >= TRANSFERS_AT_ONCE) return refuse(429, `transfers: ${TRANSFERS_AT_ONCE} already under way here; try again when one has ended`);
    this.running++;
    try {
      return await work();
    } catch (err) {
      const msg = (err as Error).message;
      this.d.log.warn({ AlgID: r.AlgID, AlgVersion: r.AlgVersion, Peer: r.Peer, Direction: r.Direction, err: msg }, 'repository transfer refused');
      if (err instanceof VersionConflict) return refuse(409, `AlgVersion: ${msg}`);
      if (err instanceof PackageError) return refuse(422, `package from ${r.Peer} refused: ${trustWording(msg)}`);
      return refuse(502, `Peer: ${r.Peer}: ${msg}`);
    } finally {
      this.running--;
    }
  }

  private async pull(r: TransferRequest, url: string): Promise<TransferOutcome> {
    const got = await this.download(joinUrl(url, `/System/AlgorithmRepository/${r.AlgID}/${encodeURIComponent(r.AlgVersion)}.rpk`));
    if ('status' in got) {
      return got.status === 404 ? refuse(404, `AlgVersion: ${r.Peer} has no AlgID ${r.AlgID} ${r.AlgVersion}`)
        : got.status === 413 ? refuse(413, `package from ${r.Peer} exceeds ${this.max} bytes: refused, not read further`)
          : refuse(502, `Peer: ${r.Peer} answered HTTP ${got.status}`);
    }
    return this.store(r, got.pkg);
  }

  /** Verifies and stores a package from peer `r.Peer` (repository.receive: nothing is written unless it passes). */
  private store(r: TransferRequest, pkg: Buffer): TransferOutcome {
    const { entry, already, signedBy } = this.d.repository.receive(pkg, r, r.Peer, this.d.now());
    this.d.log.info({ AlgID: entry.AlgID, AlgVersion: entry.AlgVersion, from: r.Peer, signedBy, already }, 'algorithm version transferred in');
    return { ok: true, reply: { StatusCode: '0', AlgID: entry.AlgID, AlgVersion: entry.AlgVersion, Peer: r.Peer, Direction: r.Direction, size: entry.size, signedBy, Already: already } };
  }

  /** Push up: the package over our session with the upper scheduler (its session token, not the node token: it names us). */
  private async pushUp(r: TransferRequest, url: string, sessionToken: string | undefined): Promise<TransferOutcome> {
    const pkg = this.d.repository.read(r.AlgID, r.AlgVersion);
    if (!pkg) return refuse(404, `AlgVersion: no AlgID ${r.AlgID} ${r.AlgVersion} in this repository to push`);
    if (!sessionToken) return refuse(502, `Peer: ${r.Peer}: no session with the upper scheduler yet (Register pending)`);
    const res = await request(joinUrl(url, `/System/AlgorithmRepository/Transfer/Upload?AlgID=${r.AlgID}&AlgVersion=${encodeURIComponent(r.AlgVersion)}`), {
      method: 'POST', body: pkg, dispatcher: this.agent, headersTimeout: 120_000, bodyTimeout: 120_000,
      headers: { authorization: `Bearer ${sessionToken}`, 'content-type': 'application/octet-stream', 'x-sender-id': `${this.d.deviceId}/transfer` },
    });
    let body: unknown;
    try { body = await res.body.json(); } catch { body = undefined; }
    return this.relayed(r, res.statusCode, body);
  }

  private async push(r: TransferRequest, url: string): Promise<TransferOutcome> {
    if (!this.d.repository.has(r.AlgID, r.AlgVersion)) return refuse(404, `AlgVersion: no AlgID ${r.AlgID} ${r.AlgVersion} in this repository to push`);
    // The peer pulls from us: it names us as its peer, and fetches from where it has us configured.
    const res = await this.client.send('POST', joinUrl(url, '/System/AlgorithmRepository/Transfer'), { AlgID: r.AlgID, AlgVersion: r.AlgVersion, Peer: this.d.deviceId, Direction: 'pull' });
    return this.relayed(r, res.status, res.body);
  }

  /** The receiving peer's answer to a push, as ours. */
  private relayed(r: TransferRequest, status: number, reply: unknown): TransferOutcome {
    const body = parse(TransferReply, reply);
    if (status === 200 && body.ok && body.value.StatusCode === '0') {
      this.d.log.info({ AlgID: r.AlgID, AlgVersion: r.AlgVersion, to: r.Peer, already: body.value.Already }, 'algorithm version transferred out');
      return { ok: true, reply: { ...body.value, Peer: r.Peer, Direction: 'push' } };
    }
    const why = (reply as { Message?: unknown } | undefined)?.Message;
    return refuse(status >= 400 && status < 500 ? status : 502, `Peer: ${r.Peer} refused the push: ${typeof why === 'string' ? why : `HTTP ${status}`}`);
  }

  private get max(): number {
    return this.d.maxBytes ?? TRANSFER_MAX_BYTES;
  }

  /** GETs a package with the node token (a configured peer's URL only), stopping at the bound. */
  private async download(url: string): Promise<{ pkg: Buffer } | { status: number }> {
    const headers: Record<string, string> = { 'x-sender-id': `${this.d.deviceId}/transfer` };
    if (this.d.token) headers.authorization = `Bearer ${this.d.token}`;
    const res = await request(url, { method: 'GET', headers, dispatcher: this.agent, headersTimeout: 30_000, bodyTimeout: 60_000, signal: AbortSignal.timeout(DOWNLOAD_DEADLINE_MS) });
    if (res.statusCode !== 200) {
      await res.body.dump();
      return { status: res.statusCode };
    }
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.max) {
      res.body.destroy();
      return { status: 413 };
    }
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of res.body) {
      n += (c as Buffer).length;
      if (n > this.max) {
        res.body.destroy();
        return { status: 413 };
      }
      chunks.push(c as Buffer);
    }
    return { pkg: Buffer.concat(chunks) };
  }

  async close(): Promise<void> {
    await this.client.close();
    await this.agent.close();
  }
}

/** The package reader speaks of an executor's keys; here it is this repository's. */
function trustWording(msg: string): string {
  return msg.replace(/is not among this executor's trusted publisher keys/, 'is not trusted by this repository (add its .pub to --trusted-keys)');
}
