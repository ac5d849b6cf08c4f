/**
 * B3: one listening socket whose requests go to whichever app is active. A scheduler replica that
 * takes the lead swaps its follower app for the leader's behind the same socket, so the port is
 * never let go: a freed ephemeral port can be taken by anything (an outgoing connection's local
 * port, another process) between a close and a new listen, and the replica could then not serve
 * at the URL it proclaimed in the election. A request that arrives while no app is active gets a
 * 503 with Retry-After (an election is under way), not a refused connection.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { FastifyServerFactory } from 'fastify';
import { failure } from './http-server.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A body in the standard's envelope (Message ≤ 128 bytes, table 18's limit, fits every route). */
const BETWEEN_APPS = JSON.stringify(failure('no leader: an election is under way', {}, 128));

export interface AppSlot {
  /** fastify's `serverFactory` for the app that will serve here: its handler is kept, not used yet. */
  serverFactory: FastifyServerFactory;
  /** Sends every request from now on to that app (call once it is ready). */
  activate(): void;
}

export class HandoverListener {
  readonly server: http.Server;
  private active: Handler | null = null;

  constructor(tls?: { key: Buffer; cert: Buffer }) {
    const route: Handler = (req, res) => {
      if (this.active) { this.active(req, res); return; }
      res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1' }).end(BETWEEN_APPS);
    };
    this.server = tls ? https.createServer({ key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2' }, route) : http.createServer(route);
    // As fastify sets on servers it makes: a request that hangs half-sent must not hold a socket.
    this.server.requestTimeout = 120_000;
  }

  /** A slot for the next app. Until its `activate`, requests go to the app active before it, or get a 503. */
  slot(): AppSlot {
    let handler: Handler | null = null;
    return {
      serverFactory: ((h: Handler) => { handler = h; return this.server; }) as unknown as FastifyServerFactory,
      activate: () => { if (!handler) throw new Error('the app was not built with this slot\'s serverFactory'); this.active = handler; },
    };
  }

  /** Stops routing to the active app (its in-flight requests finish; new ones get the 503). */
  deactivate(): void {
    this.active = null;
  }

  /** Listens; port 0 picks one, read back from `port`. */
  listen(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => { this.server.removeListener('error', reject); resolve(); });
    });
  }

  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  /**
   * Stops listening and ends idle keep-alive connections; requests in flight get `graceMs` to
   * finish before their connections are cut. Resolves when the last connection has ended.
   */
  close(graceMs = 2000): Promise<void> {
    return new Promise((resolve) => {
      const cut = setTimeout(() => this.server.closeAllConnections(), graceMs).unref();
      this.server.close(() => { clearTimeout(cut); resolve(); });
      this.server.closeIdleConnections();
    });
  }
}
