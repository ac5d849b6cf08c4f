/**
 * The scheduler as its HTTP routes see it: one method per route, each returning the reply's
 * data. Views (the device list, result pages, repository entries with their AlgFileURL) are
 * built here, so routes never reach into the store or the repository.
 */
import os from 'node:os';
import {
  CommandType, formatRetinaDateTime,
  type AlgResource, type AvailableResource, type CommandHandlers, type DeviceListReply, type DevTaskStatus, type RegisterRequest,
  type RepositoryEntry, type TaskBasicInfo, type TaskInfo, type TaskResultPage, type TotalResource,
} from '../protocol/index.ts';
import type { Scheduler, SubmitOutcome } from './scheduler.ts';

export class SchedulerFacade {
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

  submit(basic: TaskBasicInfo): Promise<SubmitOutcome> {
    return this.s.submit(basic);
  }

  /** Applies each DevTaskStatus; returns the TaskIDs none of them matched. */
  reportStatus(list: DevTaskStatus[]): string[] {
    return list.flatMap((d) => this.s.onTaskStatus(d));
  }

  taskInfo(taskId: string): TaskInfo | undefined {
    return this.s.taskInfo(taskId);
  }

  /** A page of stored results after cursor `after`; `Next` only when the page is full. */
  taskResults(taskId: string, after: number, limit: number): TaskResultPage | undefined {
    if (!this.s.store.task(taskId)) return undefined;
    const rows = this.s.store.results(taskId, after, limit);
    const page: TaskResultPage = { StatusCode: '0', TaskID: taskId, TaskResultList: rows.map((r) => r.body) };
    const last = rows.at(-1);
    if (rows.length === limit && last) page.Next = String(last.seq);
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

  deviceList(): DeviceListReply {
    return {
      StatusCode: '0',
      DeviceList: this.s.store.devices().map((d) => ({
        DeviceID: d.device_id, DeviceType: d.device_type, ProductType: d.product_type, Online: d.online === 1, CommandURL: d.command_url,
        LastSeen: formatRetinaDateTime(d.last_seen),
        AlgInfoList: d.alg_resource ? (JSON.parse(d.alg_resource) as AlgResource).AlgInfoList : [],
        TotalResource: d.total_resource ? (JSON.parse(d.total_resource) as TotalResource) : null,
        AvailableResource: d.available_resource ? (JSON.parse(d.available_resource) as AvailableResource) : null,
      })),
      Host: os.hostname(),
    };
  }

  /** The commands a scheduler accepts at `/System/Command`: results from executors, control and queries from initiators. */
  commandHandlers(): CommandHandlers {
    return {
      [CommandType.TaskResult]: async (cmd, ctx) => {
        const r = this.s.onTaskResult(cmd, ctx.sender);
        return r.ok ? { StatusCode: '0' } : { StatusCode: '1', Message: r.message };
      },
      // Initiators control and query the tasks they requested (9.7, 9.9).
      [CommandType.TaskOpsControl]: async (cmd) => {
        const problems = await this.s.control(cmd.MessageBody.OpsControlList);
        return problems.length ? { StatusCode: '1', Message: problems.join('; ') } : { StatusCode: '0' };
      },
      [CommandType.TaskStatusQuery]: async (cmd) => ({ StatusCode: '0', TaskStatusSet: this.s.queryStatus(cmd.MessageBody) }),
    };
  }
}
