/**
 * Clause 5.2, Annex B.2: this scheduler as one level of a cascade. Below it, the devices it
 * queries level by level (9.2, 9.4, 9.9 with HierarchicalQuery "1"); above it, when started with
 * `--upstream`, the upper scheduler it registers with as a device, reports its site to, takes
 * subtasks from (task_dispatch, planned and placed here) and relays their status and results to.
 * The scheduler wires one of these; its rooms know nothing of the cascade.
 */
import type Database from 'better-sqlite3';
import { CommandType, Control, type CommandHandlers, type CommandReplyBody, type DevTaskStatus, type OpsControl, type TaskBasicInfo, type TaskDispatchInfo, type TaskResult, type TaskResultBody, type TaskStatus, type TaskStatusQuery } from '../../protocol/index.ts';
import type { RetinaClient } from '../../net/client.ts';
import type { Logger } from '../../log.ts';
import { ACTIVE_STATUSES, type SchedulerStateStore, type TaskRow } from '../store.ts';
import type { DeviceRegistry } from '../devices.ts';
import type { PartAssist, SchedulerOptions, SubmitOutcome, TaskOwner } from '../options.ts';
import { aggregateAvailable, aggregateTotal, siteDevices, unionAlgorithms } from './aggregate.ts';
import { CascadeLinks } from './links.ts';
import { UpstreamSession } from './upstream.ts';
import { UpwardRelay } from './relay.ts';
import { onDispatchFromAbove } from './from-above.ts';
import type { UpstreamConfig } from './config.ts';
import { AssistedTasks } from './assisted.ts';
import { BottomUp } from './bottom-up.ts';
import { reviewFromBelow } from './review.ts';
import { FedStages } from './fed.ts';

export type { UpstreamConfig } from './config.ts';
import type { Initiators } from '../initiators.ts';
import { RetinaClient as Client } from '../../net/client.ts';
import { algorithmQuery, availableQuery, statusQuery, totalQuery, type QueryDeps } from './queries.ts';


export interface CascadeDeps {
  deviceId: string;
  publicUrl: string;
  token?: string;
  upstream?: UpstreamConfig;
  queryDeadlineMs?: number;
  store: SchedulerStateStore;
  /** This process's own SQLite (links to tasks above, assisted tasks). */
  localDb: Database.Database;
  devices: DeviceRegistry;
  client: RetinaClient;
  log: Logger;
  now(): number;
  submit(basic: TaskBasicInfo, taskId: string): Promise<SubmitOutcome>;
  /** A results-fed stage from above (admission.ts submitFed). */
  submitFed(basic: TaskBasicInfo, taskId: string, d: TaskDispatchInfo): Promise<SubmitOutcome>;
  forget(taskId: string): Promise<void>;
  statusOf(taskId: string): TaskStatus | undefined;
  /** The task view's: re-derive a task's status (and tell its initiator), announce it, store a result. */
  update(taskId: string): void;
  notifyStatus(taskId: string): void;
  onTaskResult(cmd: TaskResult, sender: string): { ok: boolean };
  notifySecret: Buffer;
  /** This level's initiators (reviews of requests from below, B.3). */
  initiators?: Initiators;
}

export class Cascade {
  readonly links: CascadeLinks;
  readonly upstream: UpstreamSession | null;
  private readonly relay: UpwardRelay | null;
  private readonly q: QueryDeps;
  private readonly assisted: AssistedTasks | null;
  private readonly bottomUp: BottomUp | null;
  /** Stages from above fed by results the upper scheduler forwards (B.2). */
  private readonly fed: FedStages;
  /** The node token's client for the upstream URL only (TaskRequest, TaskInfo, TaskResult, control of assisted tasks). */
  private readonly nodeClient: Client | null;

  constructor(private readonly d: CascadeDeps) {
    this.links = new CascadeLinks(d.localDb);
    this.fed = new FedStages({ db: d.localDb, store: d.store, devices: d.devices, client: d.client, log: d.log });
    const deviceType = d.upstream?.deviceType ?? '1';
    // A lower scheduler gives its devices less time than its upper one gives it (3 s), so its merged answer arrives in time.
    this.q = { deviceId: d.deviceId, deviceType, devices: d.devices, client: d.client, deadlineMs: d.queryDeadlineMs ?? (d.upstream ? 2000 : 3000) };
    this.upstream = d.upstream ? new UpstreamSession({ upstreamUrl: d.upstream.url, deviceId: d.deviceId, deviceType, commandUrl: d.upstream.commandUrl ?? d.publicUrl, token: d.token,
      longitude: d.upstream.longitude, latitude: d.upstream.latitude, log: d.log, reports: () => this.reports() }) : null;
    this.relay = this.upstream ? new UpwardRelay({ deviceId: d.deviceId, store: d.store, links: this.links, upstream: this.upstream, log: d.log, statusOf: d.statusOf,
      active: (id) => { const t = d.store.task(id); return t !== undefined && ACTIVE_STATUSES.includes(t.status); } }) : null;
    const up = this.upstream;
    this.nodeClient = up ? new Client({ token: d.token, senderId: `${d.deviceId}/assist-${process.pid}`, timeoutMs: 10_000 }) : null;
    this.assisted = up && this.nodeClient ? new AssistedTasks({ upstreamUrl: up.url, upperId: () => up.upperId ?? 'upper', client: this.nodeClient, store: d.store, db: d.localDb, log: d.log,
      update: d.update, onTaskResult: d.onTaskResult }) : null;
    this.bottomUp = up && this.nodeClient && this.assisted ? new BottomUp({ upstream: up, nodeClient: this.nodeClient, assisted: this.assisted, approval: d.upstream?.approval ?? false,
      store: d.store, notifySecret: d.notifySecret, log: d.log, deviceId: d.deviceId, notifyStatus: d.notifyStatus }) : null;
  }

  /** B.3: the admission's hook for handing part of a task upwards (only with an upstream). */
  get partAssist(): PartAssist | undefined {
    return this.bottomUp?.part;
  }

  /** The site's reports and a signature of its algorithm union. */
  private reports() {
    const site = siteDevices(this.d.devices.all());
    return { total: aggregateTotal(this.d.deviceId, this.q.deviceType, site), available: aggregateAvailable(this.d.deviceId, site),
      algs: JSON.stringify(unionAlgorithms(site).map((a) => [a.AlgID, a.AlgVersion, a.AlgStatus])) };
  }

  /** The task view's sink: status changes and results of tasks from above go up. */
  publish(taskId: string, what: 'results' | 'status'): void {
    this.relay?.publish(taskId, what);
  }

  start(): void {
    this.upstream?.start();
    this.relay?.kick();
    this.assisted?.start();
  }

  async close(): Promise<void> {
    this.assisted?.stop();
    await this.relay?.stop();
    await this.upstream?.stop();
    await this.nodeClient?.close();
  }

  /** B.3: a TaskRequest submitted here: approval above when configured, `local` scheduling, else assisted scheduling above. */
  submit(basic: TaskBasicInfo, owner: TaskOwner | undefined, local: () => Promise<SubmitOutcome>): Promise<SubmitOutcome> {
    return this.bottomUp ? this.bottomUp.submit(basic, owner, local) : local();
  }

  /**
   * Controls naming tasks handed upwards go there; a Stop from above for a stage fed by results
   * lets it finish (FedStages.finish); the rest are returned for this scheduler.
   */
  async controlAssisted(list: OpsControl[]): Promise<{ rest: OpsControl[]; problems: string[] }> {
    const finish = list.filter((op) => op.Control === Control.Stop && this.links.has(op.TaskID) && this.fed.isFed(op.TaskID));
    const problems: string[] = [];
    for (const op of finish) {
      const why = await this.fed.finish(op.TaskID);
      if (why) problems.push(why);
    }
    const others = list.filter((op) => !finish.includes(op));
    const up = this.assisted ? await this.assisted.control(others) : { rest: others, problems: [] };
    return { rest: up.rest, problems: [...problems, ...up.problems] };
  }

  /**
   * A task_result from a node (the upper scheduler) naming a subtask that feeds a stage from
   * above: passed on to that stage's executor here (B.2). Null when it feeds nothing here.
   */
  feedFromAbove(body: TaskResultBody): Promise<CommandReplyBody> | null {
    return this.fed.feeds(body.TaskID) ? this.fed.forward(body) : null;
  }

  /** B.3 step 3 at the upper level: null when a request a lower scheduler forwards is approved, else why not. */
  review(basic: TaskBasicInfo): string | null {
    return reviewFromBelow(basic, this.d.initiators);
  }

  /** `task_status_query` as this level answers it: `local` from the store, merged with the devices' own answers for "1". */
  status(c: TaskStatusQuery, local: DevTaskStatus[]): Promise<CommandReplyBody> {
    return statusQuery(this.q, c, local);
  }

  /** The commands a scheduler takes as one level of a cascade: the three resource queries, and task_dispatch from above. */
  handlers(): CommandHandlers {
    const h: CommandHandlers = {
      [CommandType.TotalResQuery]: (c) => totalQuery(this.q, c),
      [CommandType.AvailableResQuery]: (c) => availableQuery(this.q, c),
      [CommandType.AlgorithmResQuery]: (c) => algorithmQuery(this.q, c.MessageBody.DeviceList),
    };
    if (this.upstream) {
      const up = this.upstream;
      h[CommandType.TaskDispatch] = (c) => onDispatchFromAbove({ deviceId: this.d.deviceId, store: this.d.store, links: this.links, now: this.d.now,
        submit: this.d.submit, forget: this.d.forget, announce: (id) => this.relay?.publish(id, 'status'),
        submitFed: async (basic, taskId, d) => {
          const out = await this.d.submitFed(basic, taskId, d);
          if (out.ok) this.fed.record(taskId, (d.Dependencies ?? []).map((x) => x.TaskID));
          return out;
        } }, c, up.upperId ?? 'upper');
    }
    return h;
  }
}

/** What the scheduler offers its cascade (structural: the cascade imports no scheduler class). */
export interface CascadeHost {
  o: SchedulerOptions;
  store: SchedulerStateStore;
  localDb: Database.Database;
  devices: DeviceRegistry;
  client: RetinaClient;
  management: { deleteTask(taskId: string): Promise<boolean> };
  admission: { partAssist?: PartAssist; submitFed(basic: TaskBasicInfo, taskId: string, d: TaskDispatchInfo): Promise<SubmitOutcome> };
  submit(basic: TaskBasicInfo, owner: undefined, taskId: string): Promise<SubmitOutcome>;
  taskStatus(task: TaskRow): TaskStatus;
  onTaskResult(cmd: TaskResult, sender: string): { ok: boolean };
  clock(): number;
}

/** The cascade of a scheduler, wired to it; `view` is what its task view offers (private to it). */
export function cascadeFor(s: CascadeHost, view: Pick<CascadeDeps, 'update' | 'notifyStatus' | 'notifySecret'>): Cascade {
  const c = new Cascade({ deviceId: s.o.deviceId, publicUrl: s.o.publicUrl, token: s.o.token, upstream: s.o.upstream, queryDeadlineMs: s.o.queryDeadlineMs, initiators: s.o.initiators,
    ...view, onTaskResult: (cmd, sender) => s.onTaskResult(cmd, sender),
    store: s.store, localDb: s.localDb, devices: s.devices, client: s.client, log: s.o.log, now: () => s.clock(),
    submit: (basic, taskId) => s.submit(basic, undefined, taskId),
    submitFed: (basic, taskId, d) => s.admission.submitFed(basic, taskId, d),
    forget: async (taskId) => { await s.management.deleteTask(taskId); },
    statusOf: (taskId) => { const t = s.store.task(taskId); return t && s.taskStatus(t); } });
  s.admission.partAssist = c.partAssist;
  return c;
}
