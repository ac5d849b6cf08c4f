/**
 * Starting a role as a long-running process: build it, listen, announce readiness (a line on
 * stdout and, under a parent, an IPC message), and shut down cleanly on SIGTERM/SIGINT or
 * when the parent goes away.
 */
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createLogger, type Logger } from './log.ts';
import { Executor } from './runtime/executor.ts';
import { Scheduler, type SchedulerOptions } from './scheduler/scheduler.ts';
import { Initiators } from './scheduler/initiators.ts';
import { createExecutorServer } from './api/executor-server.ts';
import { createSchedulerServer } from './api/scheduler-server.ts';
import { getTrustedCa, setTrustedCa } from './net/client.ts';
import { ChannelClient } from './net/ws-channel.ts';
import { decoderBackendInfo } from './runtime/backend.ts';
import type { DeviceType } from './protocol/index.ts';
import { loadTaskOrder } from './scheduler/strategies/index.ts';
import type { UpstreamConfig } from './scheduler/cascade/config.ts';

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

export interface ExecutorArgs extends TlsArgs {
  mediaDirs?: string[];
  packageDirs?: string[];
  peers?: string[];
  allowPrivateUrls?: boolean;
  listen: string;
  deviceId: string;
  dataDir: string;
  /** The scheduler, or its replicas in the order they are tried (`--scheduler URL[,URL…]`). */
  scheduler?: string[];
  token?: string;
  advertise?: string;
  maxTasks?: number;
  deviceType?: DeviceType;
  longitude?: string;
  latitude?: string;
  trustedKeys?: string;
  pluginDevMode?: boolean;
  pluginWorkers?: number;
  pluginThreads?: number;
  pluginMaxBatch?: number;
  pluginMaxMemoryMB?: number;
  /** Serve GET /metrics without the node token. */
  metricsPublic?: boolean;
  /** NAT: also receive commands over a WebSocket opened to the scheduler (`--command-channel`). */
  commandChannel?: boolean;
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

/** `retinad executor …` */
export async function runExecutor(a: ExecutorArgs): Promise<void> {
  const log = createLogger('executor');
  let executor: Executor | null = null;
  // The server is up before registering, so the scheduler can call back at once.
  setTrustedCa(a.tlsCa);
  const { url, app } = await bindThen(parseListen(a.listen), a.tls ? 'https' : 'http', async (u) => {
    executor = new Executor({
      deviceId: a.deviceId, dataDir: path.resolve(a.dataDir), commandUrl: a.advertise ?? u, schedulerUrl: a.scheduler, token: a.token,
      maxRunningTasks: a.maxTasks, deviceType: a.deviceType, longitude: a.longitude, latitude: a.latitude, log,
      trustedKeysDir: a.trustedKeys, pluginDevMode: a.pluginDevMode, pluginWorkers: a.pluginWorkers, pluginThreads: a.pluginThreads, pluginMaxBatch: a.pluginMaxBatch, pluginMaxMemoryMB: a.pluginMaxMemoryMB,
      mediaDirs: a.mediaDirs?.map((d) => path.resolve(d)), packageDirs: a.packageDirs?.map((d) => path.resolve(d)), peers: a.peers, allowPrivateUrls: a.allowPrivateUrls,
    });
    return createExecutorServer(executor, { token: a.token, log, tls: a.tls, metricsPublic: a.metricsPublic });
  });
  log.info({ decoder: decoderBackendInfo() }, 'decoder backend');
  announce('executor', url, log);
  const ex = executor!;
  // With replicas the channel goes to the one the session registered with, read at each reconnect.
  const session = ex.session;
  const channel = a.commandChannel && session ? commandChannel(app, () => session.schedulerUrl, a.token, { token: () => ex.client.token, ready: () => session.registered }, log) : null;
  onShutdown(log, async () => {
    channel?.stop();
    await executor?.close();
    await app.close();
  });
  void executor!.start();
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

export interface SchedulerArgs extends TlsArgs {
  allowPrivateUrls?: boolean;
  listen: string;
  dataDir: string;
  token?: string;
  deviceId?: string;
  advertise?: string;
  keepaliveSec?: number;
  maxRetries?: number;
  /** Bound on TaskRequests in flight (past it: 503). */
  maxIntake?: number;
  /** Results kept per task (a quota). */
  maxResultsPerTask?: number;
  /** SB5: tasks running at once (default: no limit). */
  maxConcurrentTasks?: number;
  /** M3, M5: a built-in task order or the path of a module exporting `strategy`. */
  taskOrder?: string;
  trustedKeys?: string;
  pluginDevMode?: boolean;
  /** Serve GET /metrics without the node token. */
  metricsPublic?: boolean;
  /** File of initiators' credentials and policies (docs/SECURITY.md). */
  initiators?: string;
  /** Results and status changes also go to this MQTT broker. */
  mqtt?: { url: string; prefix?: string; password?: string };
  /** Cascade: the upper scheduler this one registers with (`--upstream`). */
  upstream?: UpstreamConfig;
  /** NAT: receive the upper scheduler's commands over a WebSocket too (`--command-channel`). */
  commandChannel?: boolean;
  /** B3, SB9: `etcd://host:port[,host:port]`: a replica of a scheduler whose state is in etcd. */
  store?: string;
  /** With `store`: the directory of result payloads every replica reads (a shared volume). */
  results?: string;
  /** With `store`: the leader's lease, seconds (how soon a follower takes over a dead leader). */
  leaseTtlSec?: number;
}

/** The Scheduler's options from the command line (`url`: where this process is reached). */
export async function schedulerOptions(a: SchedulerArgs, url: string, log: Logger): Promise<SchedulerOptions> {
  // Read before binding: a broken file stops the start with the field and the rule.
  const initiators = a.initiators ? Initiators.load(a.initiators) : undefined;
  if (initiators) log.info({ initiators: initiators.size }, 'initiators loaded');
  const taskOrder = a.taskOrder ? await loadTaskOrder(a.taskOrder) : undefined;
  return { initiators, mqtt: a.mqtt, maxConcurrentTasks: a.maxConcurrentTasks, taskOrder, upstream: a.upstream,
    deviceId: a.deviceId ?? 'scheduler', dataDir: path.resolve(a.dataDir), publicUrl: a.advertise ?? url, token: a.token,
    keepaliveSec: a.keepaliveSec, maxRetries: a.maxRetries, maxIntake: a.maxIntake, maxResultsPerTask: a.maxResultsPerTask, log, trustedKeysDir: a.trustedKeys, pluginDevMode: a.pluginDevMode, allowPrivateUrls: a.allowPrivateUrls,
  };
}

/** `retinad scheduler …` */
export async function runScheduler(a: SchedulerArgs): Promise<void> {
  const log = createLogger('scheduler');
  const l = parseListen(a.listen);
  let scheduler: Scheduler | null = null;
  setTrustedCa(a.tlsCa);
  const { url, app } = await bindThen(l, a.tls ? 'https' : 'http', async (u) => {
    scheduler = new Scheduler(await schedulerOptions(a, u, log));
    return createSchedulerServer(scheduler, { token: a.token, log, tls: a.tls, metricsPublic: a.metricsPublic });
  });
  scheduler!.start();
  announce('scheduler', url, log);
  const up = scheduler!.cascade.upstream;
  const channel = a.commandChannel && up ? commandChannel(app, up.url, a.token, { token: () => up.client.token, ready: () => up.registered }, log) : null;
  onShutdown(log, async () => {
    channel?.stop();
    await app.close();
    await scheduler?.close();
  });
}
