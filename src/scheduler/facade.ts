/**
 * The scheduler as its HTTP routes see it: one method per route, each returning the reply's
 * data. Views (the device list, result pages, repository entries with their AlgFileURL) are
 * built here, so routes never reach into the store or the repository.
 */
import os from 'node:os';
import {
  CommandType, formatRetinaDateTime,
  type AvailableResource, type CommandHandlers, type DeviceListReply, type DeviceListQuery, type DeviceManageRequest, type DeviceManageReply, DEVICE_PAGE_MAX, type DevTaskStatus, type RegisterRequest,
  type RepositoryEntry, type TaskBasicInfo, type TaskHistoryReply, type TaskListReply, type TaskInfo, type TaskResultPage, type TaskTopologyRecord, type SchedulingPolicyReply, type SchedulingPolicyUpdate, type TotalResource,
} from '../protocol/index.ts';
import type { Scheduler, SubmitOutcome } from './scheduler.ts';
import type { Principal, TaskEvent, TaskEventReply, TaskUpdateReply, TaskUpdateRequest } from '../protocol/index.ts';
import { updateTask } from './task-update.ts';
import { taskTopology } from './orchestration/record.ts';
import { builtinTaskOrder } from './strategies/index.ts';
import { RepositoryTransfer, type TransferOutcome } from './cascade/transfer.ts';
import type { TransferRequest } from '../protocol/index.ts';

/** A result page holds at most this much stored JSON (and at least one result). */
export const RESULT_PAGE_MAX_BYTES = 16 << 20;

export class SchedulerFacade {
  /** EC7: made on first use (most schedulers never transfer). */
  private transfers: RepositoryTransfer | undefined;

  constructor(private readonly s: Scheduler) {}

  now(): number {
    return this.s.clock();
  }

  register(r: RegisterRequest['RegisterObject']): { KeepaliveInterval: number; SessionToken: string; SchedulerID: string } {
    return { KeepaliveInterval: this.s.keepaliveSec, SessionToken: this.s.register(r), SchedulerID: this.s.o.deviceId };
  }

  keepalive(deviceId: string, arrivedAt: number): boolean {
    return this.s.keepalive(deviceId, arrivedAt);
  }

  unregister(deviceId: string): boolean {
    return this.s.unregister(deviceId);
  }

  reportTotal(r: TotalResource): boolean {
    return this.s.reportTotal(r);
  }

  reportAvailable(r: AvailableResource): boolean {
    return this.s.reportAvailable(r);
  }

  /** A TaskRequest; an initiator's is reviewed against its policy and the task is kept as its own. */
  submit(basic: TaskBasicInfo, who: Principal): Promise<SubmitOutcome> {
    const owner = who.kind === 'initiator' ? { name: who.name, policy: who.policy } : undefined;
    // Cascade B.3: approval above when configured; handed upwards when no executor here can take it.
    return this.s.cascade.submit(basic, owner, () => this.s.submit(basic, owner));
  }

  /** B.3 step 3: a lower scheduler (a device session of ours) asks this level to approve a request. */
  reviewFromBelow(basic: TaskBasicInfo): { StatusCode: '0' | '1'; Message?: string } {
    const why = this.s.cascade.review(basic);
    return why ? { StatusCode: '1', Message: why } : { StatusCode: '0' };
  }

  /** Whether `who` may see or control task (or subtask) `id`: nodes all, an initiator its own. */
  private owns(who: Principal, id: string): boolean {
    if (who.kind === 'node') return true;
    if (who.kind !== 'initiator') return false;
    const task = this.s.store.task(id) ?? this.s.store.task(this.s.store.subtask(id)?.task_id ?? '');
    return task?.owner === who.name;
  }

  /** Applies each DevTaskStatus; returns the TaskIDs none of them matched. */
  reportStatus(list: DevTaskStatus[]): string[] {
    return list.flatMap((d) => this.s.onTaskStatus(d));
  }

  /** Another initiator's task is answered as unknown: its existence is not revealed either. */
  taskInfo(taskId: string, who: Principal): TaskInfo | undefined {
    return this.owns(who, taskId) ? this.s.taskInfo(taskId) : undefined;
  }

  /** SB5, M3: the limit on running tasks and the order waiting ones start in. */
  schedulingPolicy(): SchedulingPolicyReply {
    const p = this.s.admission.slots.current;
    return { StatusCode: '0', SchedulingPolicy: { ...(p.maxConcurrentTasks !== undefined ? { MaxConcurrentTasks: p.maxConcurrentTasks } : {}), TaskOrder: p.strategy.name, RunningTasks: p.running, WaitingTasks: p.waiting } };
  }

  /** SB5: changes the limit (null: none) or the built-in order now; a raised limit starts waiting tasks at once. */
  setSchedulingPolicy(u: SchedulingPolicyUpdate): SchedulingPolicyReply {
    const strategy = u.TaskOrder !== undefined ? builtinTaskOrder(u.TaskOrder) : undefined;
    this.s.admission.slots.set({ ...(u.MaxConcurrentTasks !== undefined ? { maxConcurrentTasks: u.MaxConcurrentTasks ?? undefined } : {}), ...(strategy ? { strategy } : {}) });
    return this.schedulingPolicy();
  }

  /** M3, SB4: a pushed event starts the held tasks waiting for it — a node's any, an initiator's only its own; a device's none. */
  taskEvent(e: TaskEvent, who: Principal): TaskEventReply {
    if (who.kind === 'device') return { StatusCode: '1', Message: 'a device session may not push task events', Started: [] };
    return { StatusCode: '0', Started: this.s.admission.triggers.onEvent(e, who.kind === 'initiator' ? who.name : null) };
  }

  /** S1: the TaskTopology record of a task `who` may see. */
  taskTopology(taskId: string, who: Principal): TaskTopologyRecord | undefined {
    return this.owns(who, taskId) ? taskTopology(this.s.store, taskId) : undefined;
  }

  /** The newest tasks `who` may see (an initiator: its own). */
  taskList(limit: number, who: Principal): TaskListReply {
    const rows = this.s.store.recentTasks(limit, who.kind === 'initiator' ? who.name : undefined);
    return { StatusCode: '0', TaskList: rows.map((t) => {
      const st = this.s.taskStatus(t);
      return { TaskID: t.task_id, TaskName: st.TaskName ?? '', ExecutionStatus: t.status, Progress: st.Progress ?? 0, Subtasks: this.s.store.subtasks(t.task_id).length,
        Results: this.s.store.resultCount(t.task_id), CreateTime: formatRetinaDateTime(t.created_at), UpdateTime: formatRetinaDateTime(t.updated_at) };
    }) };
  }

  /** Every status change of a task and its subtasks, oldest first. */
  taskHistory(taskId: string, who: Principal): TaskHistoryReply | undefined {
    if (!this.s.store.task(taskId) || !this.owns(who, taskId)) return undefined;
    return { StatusCode: '0', TaskID: taskId, History: this.s.store.statusHistory(taskId, false).map((e) => ({
      At: formatRetinaDateTime(e.at), ExecutionStatus: e.status, ...(e.subtask_id ? { SubtaskID: e.subtask_id } : {}),
    })) };
  }

  /** A page of stored results after cursor `after`; `Next` only when the page is full. */
  taskResults(taskId: string, after: number, limit: number, who: Principal): TaskResultPage | undefined {
    if (!this.s.store.task(taskId) || !this.owns(who, taskId)) return undefined;
    const rows = this.s.store.results(taskId, after, limit, RESULT_PAGE_MAX_BYTES);
    const page: TaskResultPage = { StatusCode: '0', TaskID: taskId, TaskResultList: rows.map((r) => r.body) };
    const last = rows.at(-1);
    if (rows.full && last) page.Next = String(last.seq);
    return page;
  }

  publish(pkg: Buffer): RepositoryEntry {
    const e = this.s.repository.publish(pkg);
    return { ...e, AlgFileURL: this.s.algFileUrl(e.AlgID, e.AlgVersion) };
  }

  algorithmList(): RepositoryEntry[] {
    return this.s.repository.list().map((e) => ({ ...e, AlgFileURL: this.s.algFileUrl(e.AlgID, e.AlgVersion) }));
  }

  algorithmPackage(algId: number, version: string): Buffer | undefined {
    return this.s.repository.read(algId, version);
  }

  /** EC7: a version moves between this repository and a configured peer's. */
  transfer(r: TransferRequest): Promise<TransferOutcome> {
    return this.transferRoom().run(r);
  }

  /** EC7: whether `who` may push a version up here (a device session of a registered lower scheduler). */
  mayUpload(who: Principal | null): boolean {
    return who?.kind === 'device' && this.transferRoom().isLower(who.deviceId);
  }

  /** EC7: a version a lower scheduler (`who`, its device session) pushes up. */
  transferUpload(who: Principal, want: { AlgID: number; AlgVersion: string }, pkg: Buffer): Promise<TransferOutcome> {
    return this.transferRoom().received(who.kind === 'device' ? who.deviceId : undefined, want, pkg);
  }

  private transferRoom(): RepositoryTransfer {
    const s = this.s;
    this.transfers ??= new RepositoryTransfer({ deviceId: s.o.deviceId, token: s.o.token, repository: s.repository, devices: s.devices, log: s.o.log, now: () => s.clock(),
      upstream: () => { const up = s.cascade.upstream; return up ? { url: up.url, upperId: up.upperId, sessionToken: up.client.token } : null; } });
    return this.transfers;
  }

  async closeTransfers(): Promise<void> {
    await this.transfers?.close();
  }

  /** A page of executors in DeviceID order after `q.after`, filtered; `Next` when more follow. */
  deviceList(q: DeviceListQuery = {}): DeviceListReply {
    const limit = Number(q.limit ?? DEVICE_PAGE_MAX);
    const algId = q.algId === undefined ? undefined : Number(q.algId);
    const page: DeviceListReply['DeviceList'] = [];
    let next: string | undefined;
    for (const { row: d, algs, total, available } of this.s.devices.all()) {
      if (q.after !== undefined && d.device_id <= q.after) continue;
      if (q.online !== undefined && String(d.online) !== q.online) continue;
      if (q.enabled !== undefined && String(d.enabled) !== q.enabled) continue;
      if (q.deviceType !== undefined && d.device_type !== q.deviceType) continue;
      if (algId !== undefined && !algs.some((a) => a.AlgID === algId)) continue;
      if (page.length === limit) { next = page.at(-1)?.DeviceID; break; }
      page.push({
        DeviceID: d.device_id, DeviceType: d.device_type, ProductType: d.product_type, Online: d.online === 1, Enabled: d.enabled === 1, CommandURL: d.command_url,
        LastSeen: formatRetinaDateTime(d.last_seen),
        AlgInfoList: algs, TotalResource: total ?? null, AvailableResource: available ?? null,
      });
    }
    return { StatusCode: '0', DeviceList: page, Host: os.hostname(), ...(next !== undefined ? { Next: next } : {}) };
  }

  /** The device whose CommandURL is `url` (a command that could not connect may take its channel). */
  deviceByCommandUrl(url: string): string | undefined {
    const bare = (u: string) => u.replace(/\/+$/, '');
    return this.s.devices.all().find((d) => d.row.command_url !== null && bare(d.row.command_url) === bare(url))?.row.device_id;
  }

  /** SM1: add, remove, enable or disable executors. */
  manageDevices(r: DeviceManageRequest): DeviceManageReply {
    const Results = this.s.management.devices(r.Action, r.DeviceList);
    const failed = Results.filter((x) => x.StatusCode === '1');
    return failed.length ? { StatusCode: '1', Message: `${failed.length} of ${Results.length} not ${r.Action === 'add' ? 'added' : r.Action === 'remove' ? 'removed' : `${r.Action}d`}: ${failed.slice(0, 5).map((f) => `${f.DeviceID} (${f.Message ?? ''})`).join(', ')}`, Results } : { StatusCode: '0', Results };
  }

  /** SB2: a task `who` may see, updated on all its executors (undefined: unknown to `who`). */
  async updateTask(taskId: string, r: TaskUpdateRequest, who: Principal): Promise<TaskUpdateReply | undefined> {
    if (!this.s.store.task(taskId) || !this.owns(who, taskId)) return undefined;
    const s = this.s;
    const Results = await updateTask({ store: s.store, devices: s.devices, repository: s.repository, client: s.client, algFileUrl: (id, v) => s.algFileUrl(id, v), log: s.o.log }, taskId, r);
    if (!Results) return undefined;
    const failed = Results.filter((x) => x.StatusCode === '1');
    if (!Results.length) return { StatusCode: '1', Message: 'TaskID: the task has no running subtask to update', Results };
    return failed.length ? { StatusCode: '1', Message: `${failed.length} of ${Results.length} not updated (they run the old version on): ${failed.slice(0, 3).map((f) => `${f.DeviceID} (${f.Message ?? ''})`).join(', ')}`, Results } : { StatusCode: '0', Results };
  }

  /** S4 delete: a task `who` may see, stopped if running, then deleted with its results. */
  async deleteTask(taskId: string, who: Principal): Promise<boolean> {
    if (!this.s.store.task(taskId) || !this.owns(who, taskId)) return false;
    return this.s.management.deleteTask(taskId);
  }

  /** The commands a scheduler accepts at `/System/Command`: results from executors, control and queries from initiators, and (cascade) resource queries and dispatches from above. */
  commandHandlers(): CommandHandlers {
    return {
      ...this.s.cascade.handlers(),
      [CommandType.TaskResult]: async (cmd, ctx) => {
        // B.2: the upper scheduler (a node) forwarding an upstream's result to a stage placed here.
        const fed = ctx.principal.kind === 'node' ? this.s.cascade.feedFromAbove(cmd.MessageBody) : null;
        if (fed) return fed;
        const r = this.s.onTaskResult(cmd, ctx.sender, ctx.principal.kind === 'device' ? ctx.principal.deviceId : undefined);
        return r.ok ? { StatusCode: '0' } : { StatusCode: '1', Message: r.message };
      },
      // Initiators control and query the tasks they requested (9.7, 9.9); another's are unknown to them.
      [CommandType.TaskOpsControl]: async (cmd, ctx) => {
        const list = cmd.MessageBody.OpsControlList;
        const foreign = list.filter((op) => !this.owns(ctx.principal, op.TaskID));
        // Tasks handed to the upper scheduler (B.3 assisted) are controlled there.
        const up = await this.s.cascade.controlAssisted(list.filter((op) => !foreign.includes(op)));
        const problems = [...foreign.map((op) => `TaskID: no task or subtask "${op.TaskID}" on this scheduler`), ...up.problems, ...await this.s.control(up.rest)];
        return problems.length ? { StatusCode: '1', Message: problems.join('; ') } : { StatusCode: '0' };
      },
      [CommandType.TaskStatusQuery]: async (cmd, ctx) => {
        const set = this.s.queryStatus(cmd.MessageBody);
        // A node (operator, upper scheduler) with HierarchicalQuery "1" gets the devices' own answers merged in (9.9).
        if (ctx.principal.kind === 'node') return this.s.cascade.status(cmd, set);
        const who = ctx.principal;
        return { StatusCode: '0', TaskStatusSet: set.map((d) => ({ ...d, TaskStatusList: (d.TaskStatusList ?? []).filter((st) => this.owns(who, st.TaskID)) })) };
      },
    };
  }
}
