/**
 * A scheduler replica as an executor sees one (issue 14): a real HTTP server speaking the
 * session's replies (Register with a SessionToken, Keepalive, Time, resource and status
 * reports) and taking task_result commands, each reply carrying X-Retinad-Epoch when given.
 * It records what arrived and with which Authorization; it can die (refuse connections, drop
 * the ones it holds without answering) and come back on the same port.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatRetinaDateTime } from '../../src/protocol/index.ts';

export interface Arrival {
  path: string;
  authorization?: string;
  body: Record<string, unknown>;
}

export interface FakeReplica {
  name: string;
  url: string;
  /** Everything answered, in arrival order (nothing that arrived while dying is here). */
  arrivals: Arrival[];
  /** The MessageBody of each task_result answered (at any path ending in /System/Command), in order. */
  results(): Array<Record<string, unknown>>;
  /** Register requests answered (with success unless `status` is set). */
  registers(): number;
  /** Stops answering: new connections are refused, requests on held ones are dropped unanswered. */
  die(): Promise<void>;
  /** Listens again on the same port. */
  revive(): Promise<void>;
  /** Runs after each answered request (a test kills the replica from here at a chosen moment). */
  onAnswer?: (a: Arrival) => void;
  /** The epoch each reply carries (none when undefined). */
  epoch?: number;
  /** Answer every request with this HTTP status and StatusCode "1" (503: a follower cut off from its leader). */
  status?: number;
}

/** Starts a replica on a free port of 127.0.0.1 (or `port`). */
export async function startReplica(name: string, port = 0): Promise<FakeReplica> {
  let dead = false;
  const arrivals: Arrival[] = [];
  const srv = http.createServer((req, res) => {
    let s = '';
    req.on('data', (c) => (s += c));
    req.on('end', () => {
      if (dead) { req.socket.destroy(); return; }
      const path = (req.url ?? '/').split('?')[0]!;
      let body: Record<string, unknown> = {};
      try { body = s ? JSON.parse(s) : {}; } catch { /* answered below as any other */ }
      const a: Arrival = { path, body, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) };
      arrivals.push(a);
      res.setHeader('content-type', 'application/json');
      if (r.epoch !== undefined) res.setHeader('x-retinad-epoch', String(r.epoch));
      let reply: Record<string, unknown> = { StatusCode: '0' };
      if (r.status !== undefined) { res.statusCode = r.status; reply = { StatusCode: '1', Message: 'no leader' }; }
      else if (path === '/System/Register') reply = { StatusCode: '0', KeepaliveInterval: 1, SessionToken: `session-${name}-0123456789`, SchedulerID: 'scheduler' };
      else if (path === '/System/Time') { const now = Date.now(); reply = { StatusCode: '0', SystemTimeObject: { LocalTime: formatRetinaDateTime(now), TimeZone: 'UTC', UnixMs: now } }; }
      else if (path === '/System/Command') reply = { StatusCode: '0', CommandType: body.CommandType, CommandIdx: body.CommandIdx };
      res.end(JSON.stringify(reply));
      r.onAnswer?.(a);
    });
  });
  const listen = (p: number) => new Promise<void>((resolve, reject) => { srv.once('error', reject); srv.listen(p, '127.0.0.1', () => { srv.off('error', reject); resolve(); }); });
  await listen(port);
  const bound = (srv.address() as AddressInfo).port;
  const r: FakeReplica = {
    name,
    url: `http://127.0.0.1:${bound}`,
    arrivals,
    results: () => arrivals.filter((a) => a.path.endsWith('/System/Command') && a.body.CommandType === 'task_result').map((a) => a.body.MessageBody as Record<string, unknown>),
    registers: () => arrivals.filter((a) => a.path === '/System/Register').length,
    die: async () => {
      dead = true;
      const closed = new Promise<void>((resolve) => srv.close(() => resolve()));
      // Idle kept-alive connections go now; one with a request in it is dropped by the handler.
      srv.closeIdleConnections();
      setTimeout(() => srv.closeAllConnections(), 200).unref();
      await closed;
    },
    revive: async () => {
      dead = false;
      await listen(bound);
    },
  };
  return r;
}
