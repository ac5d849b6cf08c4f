/** `retinad executor …`: an executor node as a long-running process. */
import path from 'node:path';
import { createLogger } from './log.ts';
import { Executor } from './runtime/executor.ts';
import { createExecutorServer } from './api/executor-server.ts';
import { setTrustedCa } from './net/client.ts';
import { decoderBackendInfo } from './runtime/backend.ts';
import type { DeviceType } from './protocol/index.ts';
import { announce, bindThen, commandChannel, onShutdown, parseListen, type TlsArgs } from './role-process.ts';

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
