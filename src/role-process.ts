/**
 * What every role's process shares: its --listen address, binding (the port first, so the URL
 * is known before the routes exist), announcing readiness (a line on stdout and, under a parent,
 * an IPC message), shutting down cleanly on SIGTERM/SIGINT or when the parent goes away, and the
 * NAT command channel. Each role lives in its own module (executor-role.ts, scheduler-role.ts,
 * replica-role.ts) that the command line imports only when that role starts, so an executor
 * never loads the scheduler, etcd or MQTT code, and starts sooner.
 */
import os from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { Logger } from './log.ts';
import { getTrustedCa } from './net/client.ts';
import { ChannelClient } from './net/ws-channel.ts';

export interface Listen { host: string; port: number }

/** Parses "HOST:PORT" (IPv6 in brackets). */
export function parseListen(s: string): Listen {
  const [, bracketed, plain, port] = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(s) ?? [];
  const host = bracketed ?? plain;
  if (host === undefined || port === undefined || Number(port) > 65535) throw new Error(`--listen: "${s}" is not HOST:PORT (e.g. 127.0.0.1:7100; port 0 picks a free one)`);
  return { host, port: Number(port) };
}

function urlOf(app: FastifyInstance, host: string, scheme: 'http' | 'https'): string {
  const addr = app.server.address();
  return listenUrl(host, typeof addr === 'object' && addr ? addr.port : 0, scheme);
}

/** The URL a role listening on host:port is reached at (a wildcard host: this machine's name). */
export function listenUrl(host: string, port: number, scheme: 'http' | 'https'): string {
  const h = host === '0.0.0.0' || host === '::' ? os.hostname() : host;
  return `${scheme}://${h.includes(':') ? `[${h}]` : h}:${port}`;
}

/** TLS settings of a role: its own key and certificate (serve HTTPS), and a CA its peers are verified against. */
export interface TlsArgs {
  tls?: { key: Buffer; cert: Buffer };
  tlsCa?: Buffer;
}

export function announce(role: string, url: string, log: Logger): void {
  log.info({ url }, `${role} listening`);
  process.stdout.write(`retinad ${role} listening on ${url}\n`);
  process.send?.({ type: 'ready', role, url });
}

export function onShutdown(log: Logger, fn: () => Promise<void>): void {
  let done = false;
  const stop = (why: string) => {
    if (done) return;
    done = true;
    log.info({ why }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 8000);
    force.unref();
    fn().then(() => process.exit(0), (err: Error) => { log.error({ err }, 'shutdown failed'); process.exit(1); });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Under `retinad demo` (or a test) the parent holds an IPC channel: follow it down.
  if (process.send) process.on('disconnect', () => stop('parent exited'));
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
}

/**
 * NAT (PROTOCOL.md): keeps a WebSocket command channel open to `url` once registered there; the
 * commands that come down it run through this node's own `/System/Command` route, as the node
 * token's (the channel leads to the configured scheduler only), de-duplicated by its sender.
 */
export function commandChannel(app: FastifyInstance, url: string | (() => string), nodeToken: string | undefined, session: { token(): string | undefined; ready(): boolean }, log: Logger): ChannelClient {
  const ch = new ChannelClient({ url, token: session.token, ready: session.ready, ca: getTrustedCa(), log,
    deliver: async (text, sender) => (await app.inject({ method: 'POST', url: '/System/Command', payload: text,
      headers: { 'content-type': 'application/json', 'x-sender-id': sender, ...(nodeToken ? { authorization: `Bearer ${nodeToken}` } : {}) } })).json() });
  ch.start();
  return ch;
}

/**
 * Finds the port first (when 0 is asked) so the URL can be put into the node before its routes
 * exist, then listens for real on it.
 */
export async function bindThen(l: Listen, scheme: 'http' | 'https', build: (url: string) => Promise<FastifyInstance>): Promise<{ url: string; app: FastifyInstance }> {
  let port = l.port;
  if (port === 0) {
    const net = await import('node:net');
    port = await new Promise<number>((resolve, reject) => {
      const srv = net.createServer();
      srv.once('error', reject);
      srv.listen(0, l.host, () => {
        const a = srv.address();
        const p = typeof a === 'object' && a ? a.port : 0;
        srv.close(() => resolve(p));
      });
    });
  }
  const h = l.host === '0.0.0.0' || l.host === '::' ? os.hostname() : l.host;
  const url = `${scheme}://${h.includes(':') ? `[${h}]` : h}:${port}`;
  const app = await build(url);
  await app.listen({ host: l.host, port });
  return { url: urlOf(app, l.host, scheme), app };
}
