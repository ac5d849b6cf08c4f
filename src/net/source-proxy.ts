/**
 * A forward proxy on loopback that every HTTP(S) request FFmpeg makes for a source goes through.
 * Both decode backends give it to FFmpeg as `http_proxy`, and FFmpeg passes that on to what a
 * source leads to: redirects, HLS playlists and their segments, keys. So the URL policy
 * (net/url-policy) that judged the StreamURL at dispatch judges every later hop too: a redirect
 * or a playlist entry to this node, loopback or link-local (cloud metadata) is refused, while one
 * to another allowed host (a CDN) is followed. The proxy resolves each name itself and connects
 * to the address it checked, so a name that resolves elsewhere a moment later (DNS rebinding)
 * does not get through either.
 *
 * http:// goes as proxied requests (only GET and HEAD: sources are read); https:// as CONNECT
 * tunnels to the checked address (TLS stays end to end between FFmpeg and the origin). Each
 * source gets a lease: its own credentials in the proxy URL (FFmpeg sends them after the 407
 * challenge, as it does for any proxy), so a refusal is told to the task that caused it, and no
 * other local process can use the proxy.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { resolveAllowed, UrlRefused, type UrlPolicy } from './url-policy.ts';

export interface SourceProxyOptions {
  /** Connecting to an origin gives up after this long (ms). */
  connectTimeoutMs?: number;
  /** Connections open at once through the proxy, all sources together. */
  maxConnections?: number;
}

/** One source's use of the proxy. */
export interface ProxyLease {
  /** For FFmpeg's `http_proxy`: http://id:secret@127.0.0.1:port */
  readonly url: string;
  /** Why the last request of this source was refused, naming the field and the rule; null if none was. */
  refusal(): string | null;
  release(): void;
}

interface Lease {
  digest: Buffer;
  field: string;
  refusal: string | null;
}

/** Headers that belong to one connection, not to the message (RFC 9110 §7.6.1), and the proxy's own. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-authorization', 'proxy-authenticate', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'];
const CHALLENGE = 'Basic realm="retinad source proxy"';
const sha = (b: Buffer | string): Buffer => createHash('sha256').update(b).digest();

export class SourceProxy {
  private readonly server: http.Server;
  private readonly leases = new Map<string, Lease>();
  private readonly sockets = new Set<net.Socket>();
  private port = 0;
  private starting: Promise<void> | null = null;

  constructor(private readonly policy: UrlPolicy, private readonly o: SourceProxyOptions = {}) {
    this.server = http.createServer((req, res) => void this.onRequest(req, res));
    this.server.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => void this.onConnect(req, socket, head));
    this.server.on('connection', (s: net.Socket) => { this.sockets.add(s); s.once('close', () => this.sockets.delete(s)); });
    this.server.maxConnections = o.maxConnections ?? 512;
    // Streams are long: no limit on a response's life, only on a request's head arriving.
    this.server.requestTimeout = 0;
    this.server.headersTimeout = 10_000;
  }

  /** Listens on a free loopback port; the same promise on every call. */
  start(): Promise<void> {
    this.starting ??= new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        this.server.off('error', reject);
        this.port = (this.server.address() as net.AddressInfo).port;
        resolve();
      });
    });
    return this.starting;
  }

  /** True once leases can be given. */
  get listening(): boolean {
    return this.port !== 0;
  }

  /** A lease for one source; `field` names it in refusals (InputInfo.StreamURL). */
  lease(field: string): ProxyLease {
    if (!this.port) throw new Error('the source proxy is not started');
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(18).toString('base64url');
    const lease: Lease = { digest: sha(`${id}:${secret}`), field, refusal: null };
    this.leases.set(id, lease);
    return {
      url: `http://${id}:${secret}@127.0.0.1:${this.port}`,
      refusal: () => lease.refusal,
      release: () => { this.leases.delete(id); },
    };
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (this.server.listening) await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** The lease a Proxy-Authorization header proves, or null. */
  private auth(header: string | undefined): Lease | null {
    const m = /^Basic\s+([A-Za-z0-9+/=]{1,256})$/.exec(header ?? '');
    if (!m?.[1]) return null;
    const pair = Buffer.from(m[1], 'base64').toString('utf8');
    const lease = this.leases.get(pair.slice(0, pair.indexOf(':')));
    // Compared as hashes: constant time whatever the lengths.
    return lease && timingSafeEqual(lease.digest, sha(pair)) ? lease : null;
  }

  /** Checks a host the source led to; records and returns the refusal, or the address to connect to. */
  private async check(lease: Lease, target: string, hostname: string): Promise<{ address: string } | { refused: string }> {
    try {
      return { address: await resolveAllowed(lease.field, hostname, this.policy) };
    } catch (err) {
      const rule = err instanceof UrlRefused ? err.rule : (err as Error).message;
      lease.refusal = `${lease.field}: led to ${target.slice(0, 200)} (a redirect or a playlist entry), refused: ${rule}`;
      return { refused: lease.refusal };
    }
  }

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const lease = this.auth(req.headers['proxy-authorization']);
    if (!lease) {
      res.writeHead(407, { 'proxy-authenticate': CHALLENGE, 'content-length': '0' }).end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-length': '0' }).end();
      return;
    }
    let u: URL;
    try {
      u = new URL(req.url ?? '');
    } catch {
      res.writeHead(400, { 'content-length': '0' }).end();
      return;
    }
    if (u.protocol !== 'http:' || u.username || u.password) {
      res.writeHead(400, { 'content-length': '0' }).end();
      return;
    }
    const checked = await this.check(lease, `${u.origin}${u.pathname}`, u.hostname);
    if ('refused' in checked) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end(checked.refused);
      return;
    }
    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.includes(k) && v !== undefined) headers[k] = v;
    headers.host = u.host;
    headers.connection = 'close';
    const up = http.request({ host: checked.address, port: Number(u.port || 80), method: req.method, path: `${u.pathname}${u.search}`, headers, setHost: false,
      timeout: this.o.connectTimeoutMs ?? 10_000 });
    up.on('response', (ur) => {
      up.setTimeout(0);
      const out: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(ur.headers)) if (!HOP_BY_HOP.includes(k) && v !== undefined) out[k] = v;
      res.writeHead(ur.statusCode ?? 502, out);
      ur.pipe(res);
    });
    up.on('timeout', () => up.destroy(new Error('origin timeout')));
    up.on('error', () => { if (!res.headersSent) res.writeHead(502, { 'content-length': '0' }).end(); else res.destroy(); });
    res.on('close', () => up.destroy());
    up.end();
  }

  private async onConnect(req: http.IncomingMessage, socket: net.Socket, head: Buffer): Promise<void> {
    socket.on('error', () => undefined);
    const reply = (status: string, extra = '', body = '') => {
      socket.end(`HTTP/1.1 ${status}\r\n${extra}content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    };
    const lease = this.auth(req.headers['proxy-authorization']);
    if (!lease) return reply('407 Proxy Authentication Required', `proxy-authenticate: ${CHALLENGE}\r\n`);
    let u: URL;
    try {
      u = new URL(`https://${req.url ?? ''}`);
    } catch {
      return reply('400 Bad Request');
    }
    if (u.username || u.password || u.pathname !== '/' || u.search) return reply('400 Bad Request');
    const checked = await this.check(lease, `https://${u.host}`, u.hostname);
    if ('refused' in checked) return reply('403 Forbidden', 'content-type: text/plain; charset=utf-8\r\n', checked.refused);
    const up = net.connect({ host: checked.address, port: Number(u.port || 443), timeout: this.o.connectTimeoutMs ?? 10_000 });
    let tunnel = false;
    up.once('connect', () => {
      tunnel = true;
      up.setTimeout(0);
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on('timeout', () => up.destroy());
    // Before the tunnel is up FFmpeg is told; once it is, bytes are TLS and the socket just ends.
    up.on('error', () => { if (!tunnel && !socket.destroyed) reply('502 Bad Gateway'); else socket.destroy(); });
    up.on('close', () => socket.destroy());
    socket.on('close', () => up.destroy());
  }
}
