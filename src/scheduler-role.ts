/** `retinad scheduler …` on its own SQLite store (replica-role.ts: on etcd). */
import path from 'node:path';
import { createLogger, type Logger } from './log.ts';
import { Scheduler, type SchedulerOptions } from './scheduler/scheduler.ts';
import { Initiators } from './scheduler/initiators.ts';
import { createSchedulerServer } from './api/scheduler-server.ts';
import { setTrustedCa } from './net/client.ts';
import { loadTaskOrder } from './scheduler/strategies/index.ts';
import type { UpstreamConfig } from './scheduler/cascade/config.ts';
import { announce, bindThen, commandChannel, onShutdown, parseListen, type TlsArgs } from './role-process.ts';

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
