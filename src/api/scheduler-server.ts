/**
 * The scheduler's HTTP face: every REST path of PROTOCOL.md plus `POST /System/Command`, as one
 * route plugin per concern over the scheduler's façade.
 */
import type { FastifyInstance, FastifyServerFactory } from 'fastify';
import { Registry } from 'prom-client';
import type { Scheduler } from '../scheduler/scheduler.ts';
import { SchedulerFacade } from '../scheduler/facade.ts';
import type { Logger } from '../log.ts';
import { createBaseServer } from './http-server.ts';
import { timeRoutes } from './routes/time.ts';
import { sessionRoutes } from './routes/session.ts';
import { resourceRoutes } from './routes/resources.ts';
import { taskRoutes } from './routes/tasks.ts';
import { resultRoutes } from './routes/results.ts';
import { repositoryRoutes } from './routes/repository.ts';
import { repositoryTransferRoutes } from './routes/repository-transfer.ts';
import { deviceRoutes } from './routes/devices.ts';
import { taskUpdateRoutes } from './routes/task-update.ts';
import { commandRoutes } from './routes/command.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { consoleRoutes } from './routes/console.ts';
import { schedulingRoutes } from './routes/scheduling.ts';
import { taskEventRoutes } from './routes/task-event.ts';
import { cascadeRoutes } from './routes/cascade.ts';
import { attachCommandChannel } from './routes/command-channel.ts';
import { ChannelHub } from '../net/ws-channel.ts';
import { durableReplies, followerGate, replicaHooks, type ReplicaRole } from './routes/replica.ts';

export interface SchedulerServerOptions {
  token?: string;
  log: Logger;
  tls?: { key: Buffer; cert: Buffer };
  metricsPublic?: boolean;
  /** A replica on a shared store (etcd): its term's epoch, or that it follows. */
  replica?: Omit<ReplicaRole, 'durable'>;
  /** Serve behind a replica's handover listener (it owns the socket and TLS). */
  serverFactory?: FastifyServerFactory;
}

export function createSchedulerServer(s: Scheduler, opts: SchedulerServerOptions): FastifyInstance {
  const http = new Registry();
  const gate = opts.replica?.follower && followerGate(opts.replica.follower);
  const app = createBaseServer({
    logger: opts.log, token: opts.token, tls: opts.tls, metrics: http, metricsPublic: opts.metricsPublic, openapi: 'scheduler',
    authenticate: (t) => s.authenticate(t), preAuth: gate, serverFactory: opts.serverFactory,
  });
  if (gate) app.addHook('onClose', () => gate.close());
  // Writes are committed in groups (SQLite and etcd alike): a reply waits for its group's commit.
  if (opts.replica) replicaHooks(app, { durable: () => s.store.durable(), ...opts.replica });
  else durableReplies(app, () => s.store.durable());
  const api = new SchedulerFacade(s);
  void app.register(metricsRoutes([http, s.metrics.registry]));
  void app.register(timeRoutes(api));
  void app.register(sessionRoutes(api, opts.token));
  void app.register(resourceRoutes(api));
  void app.register(taskRoutes(api));
  void app.register(resultRoutes(api));
  void app.register(repositoryRoutes(api));
  void app.register(repositoryTransferRoutes(api));
  void app.register(deviceRoutes(api));
  void app.register(taskUpdateRoutes(api));
  void app.register(schedulingRoutes(api));
  void app.register(taskEventRoutes(api));
  void app.register(consoleRoutes());
  void app.register(cascadeRoutes(api));
  void app.register(commandRoutes(api.commandHandlers(), {
    failureExtras: { task_status_query: { TaskStatusSet: [] }, total_res_query: { TotalResourceList: [] }, available_res_query: { AvailableResourceList: [] }, algorithm_res_query: { AlgResourceList: [] } },
    // Executors send results as themselves; initiators control and query their own tasks.
    access: { task_result: ['device'], task_ops_control: ['initiator'], task_status_query: ['initiator'] },
  }));
  // NAT: devices that cannot be reached at their CommandURL get their commands over the channel
  // they opened; a new channel gets the algorithm query its registration could not deliver.
  const hub = new ChannelHub({ onAttach: (id) => void s.refreshAlgorithms(id).catch(() => undefined) });
  attachCommandChannel(app, { hub, authenticate: (t) => s.authenticate(t), senderId: s.client.senderId });
  s.client.setCommandChannel((base) => {
    const id = api.deviceByCommandUrl(base);
    return id !== undefined && hub.has(id) ? (env) => hub.request(id, env, 10_000) : undefined;
  });
  return app;
}
