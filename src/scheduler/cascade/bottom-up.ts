/**
 * B.3: a TaskRequest submitted to this (lower) scheduler. Checked here first (format, the
 * initiator's policy: the local admission); when `--upstream-approval` is set it is forwarded to
 * the upper scheduler for approval before anything runs; then it is scheduled here. When no
 * executor here can take it, the upper scheduler is asked to place it elsewhere (assisted
 * scheduling): it is submitted there (its NotifyURL left out — the initiator hears from us),
 * kept here under the TaskID the upper one gave it, and followed (AssistedTasks). When only some
 * stages cannot run here and they stand alone (partial.ts), only those go up and the rest runs
 * here, as one task for the initiator (`part`, called by the admission).
 */
import { joinUrl, type RetinaClient } from '../../net/client.ts';
import { notifyKey } from '../../net/notify-signature.ts';
import { CustomInfo, ExecutionStatus, parse, type TaskBasicInfo } from '../../protocol/index.ts';
import type { Logger } from '../../log.ts';
import type { SchedulerStateStore } from '../store.ts';
import type { PartAssist, SubmitOutcome, TaskOwner } from '../options.ts';
import { planTopology } from '../planner.ts';
import { avoiding, partRequest } from './partial.ts';
import type { UpstreamSession } from './upstream.ts';
import type { AssistedTasks } from './assisted.ts';

export interface BottomUpDeps {
  upstream: UpstreamSession;
  /** Holds the node token; sends only to the upstream URL. */
  nodeClient: RetinaClient;
  assisted: AssistedTasks;
  /** Forward every request for approval first (`--upstream-approval`). */
  approval: boolean;
  store: SchedulerStateStore;
  notifySecret: Buffer;
  log: Logger;
  /** This scheduler's DeviceID (named in a part's Constraints.AvoidDevices). */
  deviceId: string;
  /** Announces a task's status to its initiator (the first, queued one). */
  notifyStatus(taskId: string): void;
}

/** The request as the upper scheduler sees it: the initiator named in Applicant; no NotifyURL (we notify). */
function forUpper(basic: TaskBasicInfo, owner: TaskOwner | undefined): TaskBasicInfo {
  const custom = { ...(basic.InitiationInfo.CustomInfo ?? {}) };
  delete custom.NotifyURL;
  return { ...basic, InitiationInfo: { ...basic.InitiationInfo, ...(owner ? { Applicant: owner.name } : {}), CustomInfo: custom } };
}

const reasonOf = (body: unknown, status: number): string => {
  const m = (body as { Message?: unknown } | undefined)?.Message;
  return typeof m === 'string' && m ? m : `HTTP ${status}`;
};

export class BottomUp {
  constructor(private readonly d: BottomUpDeps) {}

  /** B.3 steps 2–4: approval above when the policy says so, local scheduling, else assisted scheduling. */
  async submit(basic: TaskBasicInfo, owner: TaskOwner | undefined, local: () => Promise<SubmitOutcome>): Promise<SubmitOutcome> {
    if (this.d.approval) {
      const why = await this.review(basic, owner);
      if (why) return { ok: false, message: `upstream review: ${why}` };
    }
    const out = await local();
    if (out.ok || !out.short) return out;
    return this.assist(basic, owner, out.message);
  }

  /** Null when the upper scheduler approves; else its reason (or why it could not be asked: no approval, no run). */
  private async review(basic: TaskBasicInfo, owner: TaskOwner | undefined): Promise<string | null> {
    const u = this.d.upstream;
    if (!u.registered) return 'the upper scheduler is not reachable (approval is required)';
    try {
      const r = await u.client.send('POST', joinUrl(u.url, '/System/Cascade/TaskReview'), forUpper(basic, owner));
      return r.status === 200 && (r.body as { StatusCode?: string } | undefined)?.StatusCode === '0' ? null : reasonOf(r.body, r.status);
    } catch (err) {
      return `the upper scheduler is not reachable (approval is required): ${(err as Error).message}`;
    }
  }

  /** Submits `basic` to the upper scheduler (node token, upstream URL only): its TaskID, or why not. */
  private async sendUp(basic: TaskBasicInfo): Promise<{ ok: true; upperId: string } | { ok: false; message: string }> {
    try {
      const r = await this.d.nodeClient.send('POST', joinUrl(this.d.upstream.url, '/System/TaskRequest/'), basic);
      const id = (r.body as { TaskID?: unknown } | undefined)?.TaskID;
      if (r.status !== 200 || typeof id !== 'string') return { ok: false, message: reasonOf(r.body, r.status) };
      return { ok: true, upperId: id };
    } catch (err) {
      return { ok: false, message: `not reachable: ${(err as Error).message}` };
    }
  }

  /** The admission's hook for part of a task: send the stages up, then follow them as the local task's. */
  get part(): PartAssist {
    return {
      send: (basic, custom, stages, owner) => this.sendUp(partRequest(basic, custom, stages, this.d.deviceId, owner?.name)),
      adopt: (taskId, upperId, basic, custom, stages) => {
        // The subtasks the part will have above (the same planner there), shown here at once.
        const part = partRequest(basic, custom, stages, this.d.deviceId, undefined);
        const plans = planTopology(upperId, part, part.InitiationInfo.CustomInfo as CustomInfo, { deviceId: this.d.upstream.upperId ?? 'upper', url: this.d.upstream.url });
        this.d.assisted.addPart(taskId, upperId, plans.map((p) => ({ subtaskId: p.subtaskId, dispatch: p.dispatch })));
        this.d.log.info({ task: taskId, upperTask: upperId, stages }, 'part of the task handed to the upper scheduler (assisted scheduling)');
      },
    };
  }

  private async assist(basic: TaskBasicInfo, owner: TaskOwner | undefined, localWhy: string): Promise<SubmitOutcome> {
    // Told to avoid this site: it found no executor here (its aggregate report may still look able).
    const up = await this.sendUp(avoiding(forUpper(basic, owner), this.d.deviceId));
    if (!up.ok) return { ok: false, message: `${localWhy}; upper scheduler: ${up.message}` };
    const taskId = up.upperId;
    // Accepted above: kept here as this scheduler's task, so the initiator reads and controls it here.
    const custom = parse(CustomInfo, basic.InitiationInfo.CustomInfo);
    if (!custom.ok) return { ok: false, message: `InitiationInfo.CustomInfo: ${custom.message}` };
    this.d.store.insertTask(taskId, basic, custom.value, ExecutionStatus.Queued, owner?.name ?? null);
    this.d.assisted.add(taskId);
    this.d.log.info({ task: taskId, why: localWhy }, 'task handed to the upper scheduler (assisted scheduling)');
    this.d.notifyStatus(taskId);
    return custom.value.NotifyURL ? { ok: true, taskId, notifyKey: notifyKey(this.d.notifySecret, taskId) } : { ok: true, taskId };
  }
}
