/**
 * Task intake (I1, SB1, M1): validates a TaskRequest's CustomInfo, reviews the initiator's
 * policy and NotifyURL, checks that some executor (or the repository) can serve it, records the
 * task and hands its planned subtasks to the dispatcher. The intake gate bounds how many are in
 * flight; a slot is held until the task's subtasks are dispatched.
 */
import { randomUUID } from 'node:crypto';
import { CustomInfo, ExecutionStatus, coEvolveOf, ExtendedExceptionCode, TaskType, parse, type TaskBasicInfo, type TaskDispatchInfo, type TaskResultBody } from '../protocol/index.ts';
import { ACTIVE_STATUSES, type TaskRow } from './store.ts';
import { STOPPED_DESC } from './control.ts';
import { TaskSlots } from './policies/slots.ts';
import { staticPriority } from './strategies/static-priority.ts';
import { notifyKey } from '../net/notify-signature.ts';
import { checkUrl } from '../net/url-policy.ts';
import { sameOrigin } from './secret.ts';
import { feasible, placementWishes, whyNot, type PlacementRequest } from './placement/index.ts';
import { partsProblem, planSubtasks, planTopology, type SubtaskPlan } from './planner.ts';
import { automaticTopology, stageAlg, topologyProblem } from './orchestration/dag.ts';
import { EventTriggers, WAITING_EVENT_DESC } from './orchestration/triggers.ts';
import { CoEvolution } from './orchestration/co-evolution.ts';
import { INTAKE_RETRY_AFTER_SEC, busyMessage, type IntakeGate } from './intake.ts';
import { reviewInitiator } from './initiators.ts';
import type { AlgorithmRefresh } from './algorithm-refresh.ts';
import type { SchedulerParts } from './context.ts';
import type { PartAssist, SubmitOutcome, TaskOwner } from './options.ts';
import { detachable } from './cascade/partial.ts';

/** How long a TaskRequest nobody could serve waits for just-registered devices' first algorithm lists. */
const FIRST_LIST_WAIT_MS = 3000;

/** What a Topology stage asks of an executor: its algorithm (else the task's) and DeviceType, with the task's wishes. */
function stageRequest(req: PlacementRequest, custom: CustomInfo, st: NonNullable<CustomInfo['Topology']>['Stages'][number]): PlacementRequest {
  return { ...req, ...stageAlg(custom, st), deviceType: st.DeviceType };
}

export class Admission {
  /** SB5: the limit on tasks running at once (changeable at run time), and the order waiting ones start in (M3, M5). */
  readonly slots: TaskSlots;
  /** M3, SB4: tasks held until their event (CustomInfo.StartOn). */
  readonly triggers: EventTriggers;
  /** EC8: tasks whose AlgArgs.CoEvolve runs label-and-train rounds on their hard examples. */
  readonly coEvolution: CoEvolution;
  /** Cascade B.3: stages no executor here can take are handed upwards (set by the cascade when it has an upstream). */
  partAssist?: PartAssist;

  constructor(private readonly c: SchedulerParts, private readonly a: { intake: IntakeGate; algorithms: AlgorithmRefresh; notifySecret: Buffer }) {
    this.slots = new TaskSlots({ maxConcurrentTasks: c.o.maxConcurrentTasks, strategy: c.o.taskOrder ?? staticPriority });
    this.triggers = new EventTriggers({ store: c.store, log: c.log, release: (id) => this.release(id), notifyStatus: (id) => c.tasks.notifyStatus(id) });
    this.coEvolution = new CoEvolution({ store: c.store, devices: c.devices, log: c.log, initiators: c.o.initiators, submit: (b, owner) => this.submit(b, owner) });
  }

  /** A fresh result (M3 triggers, EC8 co-evolution rounds). */
  onResult(body: TaskResultBody): void {
    this.triggers.onResult(body);
    this.coEvolution.onResult(body);
  }

  /** A task's status changed (M3 triggers, EC8 co-evolution rounds). */
  onStatus(taskId: string, status: number): void {
    this.triggers.onStatus(taskId, status);
    this.coEvolution.onStatus(taskId, status);
  }

  /**
   * A TaskRequest; `owner` is the initiator submitting it (absent for a node), reviewed against
   * its policy. Accepted when some online executor can serve it; dispatched in the background.
   * Refused as busy when the intake is full; the slot is held until its subtasks are dispatched.
   */
  async submit(basic: TaskBasicInfo, owner?: TaskOwner, taskId?: string): Promise<SubmitOutcome> {
    if (!this.a.intake.tryEnter()) return { ok: false, message: busyMessage(this.a.intake.max), busy: { retryAfterSec: INTAKE_RETRY_AFTER_SEC } };
    let out: SubmitOutcome;
    try {
      out = await this.admit(basic, owner, taskId);
    } catch (err) {
      this.a.intake.leave();
      throw err;
    }
    if (!out.ok) this.a.intake.leave();
    return out;
  }

  /**
   * Places all of an accepted task's subtasks once it has a slot (SB5: it may wait, queued, for
   * one), then frees its intake slot — at once for a task that waits, so waiting fills no intake.
   */
  private placeAccepted(taskId: string, plans: SubtaskPlan[], req: PlacementRequest, basic: TaskBasicInfo, owner: string | null, intake = true, queuedAt = Date.now()): void {
    const w = { taskId, priority: basic.Priority ?? 5, queuedAt, owner, ...(basic.TaskType !== undefined ? { taskType: basic.TaskType } : {}) };
    const started = this.slots.submit(w, (atOnce) => {
      // Deleted or stopped while it waited: it does not start, and its slot goes on.
      if (!this.c.store.task(taskId) || this.c.flags.stopped.has(taskId)) {
        if (this.c.store.task(taskId)) this.c.store.setTaskStatus(taskId, ExecutionStatus.Done, ExtendedExceptionCode.Stopped, STOPPED_DESC);
        this.slots.ended(taskId);
        if (atOnce && intake) this.a.intake.leave();
        return;
      }
      void this.c.placer.placeAll(taskId, plans, req)
        .catch((err: Error) => this.c.log.error({ task: taskId, err: err.message }, 'placement failed'))
        .finally(() => {
          if (atOnce && intake) this.a.intake.leave();
          // Nothing of it runs (nothing placed, or everything already ended): the slot is free again.
          if (!this.c.store.subtasks(taskId).some((x) => ACTIVE_STATUSES.includes(x.status))) this.slots.ended(taskId);
        });
    });
    if (!started) {
      if (intake) this.a.intake.leave();
      this.c.store.setTaskStatus(taskId, ExecutionStatus.Queued, null, 'waiting for a slot (the scheduler\'s MaxConcurrentTasks)');
      this.c.log.info({ task: taskId, ...this.slots.current, strategy: this.slots.current.strategy.name }, 'task waits for a slot');
    }
  }

  /**
   * SB9, SB5, after a restart: tasks with subtasks running hold their slots again, and tasks that
   * were accepted but not yet placed (waiting for a slot, or cut off mid-placement) wait again.
   */
  resumeWaiting(): void {
    const queued: TaskRow[] = [];
    for (const t of this.c.store.tasksByStatus(ACTIVE_STATUSES)) {
      if (this.c.store.subtasks(t.task_id).length) this.slots.adopt(t.task_id);
      else if (t.status === ExecutionStatus.Queued) queued.push(t);
    }
    for (const t of queued) {
      const custom = JSON.parse(t.custom_info) as CustomInfo;
      // Still waiting for its event (M3): held again, not placed.
      if (custom.StartOn && t.exception_desc === WAITING_EVENT_DESC) this.triggers.hold(t.task_id, t.owner, custom.StartOn, false);
      else this.release(t.task_id, t.created_at, 'accepted task not yet placed before the restart: waits for a slot again');
    }
  }

  /** Places an accepted task that is not placed yet (held for an event, or cut off by a restart); it may wait for a slot. */
  private release(taskId: string, queuedAt = Date.now(), why?: string): void {
    const t = this.c.store.task(taskId);
    if (!t) return;
    const basic = JSON.parse(t.basic_info) as TaskBasicInfo;
    const custom = JSON.parse(t.custom_info) as CustomInfo;
    const w = placementWishes(basic.Constraints, custom);
    if (!w.ok) return;
    const me = { deviceId: this.c.o.deviceId, url: this.c.o.publicUrl };
    const plans = custom.Topology ? planTopology(taskId, basic, custom, me) : planSubtasks(taskId, basic, custom, me);
    if (why) this.c.log.info({ task: taskId }, why);
    this.placeAccepted(taskId, plans, { algId: custom.AlgID, algType: custom.AlgType, ...w.value }, basic, t.owner, false, queuedAt);
  }

  /** An accepted task starts now, or (StartOn) is held until its event without holding the intake. */
  private begin(taskId: string, plans: SubtaskPlan[], req: PlacementRequest, basic: TaskBasicInfo, custom: CustomInfo, owner: string | null): void {
    if (!custom.StartOn) return this.placeAccepted(taskId, plans, req, basic, owner);
    this.a.intake.leave();
    this.triggers.hold(taskId, owner, custom.StartOn);
  }

  /**
   * Cascade B.2: a stage fed by other subtasks' results that the upper scheduler dispatched here
   * (no StreamURL; `d.Dependencies` name its upstreams, whose results the upper scheduler
   * forwards here). Placed like a stage of a task of ours — by its algorithm and the task's
   * Constraints, decoding nothing — as one subtask that keeps those Dependencies.
   */
  async submitFed(basic: TaskBasicInfo, taskId: string, d: TaskDispatchInfo): Promise<SubmitOutcome> {
    if (!this.a.intake.tryEnter()) return { ok: false, message: busyMessage(this.a.intake.max), busy: { retryAfterSec: INTAKE_RETRY_AFTER_SEC } };
    const custom = basic.InitiationInfo.CustomInfo as CustomInfo;
    const w = placementWishes(basic.Constraints, custom);
    const req: PlacementRequest | undefined = w.ok ? { algId: d.AlgModelInfo.AlgID, ...w.value, decodeUnits: undefined } : undefined;
    const why = !w.ok ? w.message : feasible(req!, this.c.view) ? '' : `no online executor offers AlgID ${d.AlgModelInfo.AlgID} that can take it (${whyNot(req!, this.c.view) || 'none offers it'})`;
    if (why) {
      this.a.intake.leave();
      return { ok: false, message: why, ...(w.ok ? { short: true } : {}) };
    }
    this.c.store.insertTask(taskId, basic, custom, ExecutionStatus.Queued, null);
    this.c.log.info({ task: taskId, fedBy: d.Dependencies?.map((x) => x.TaskID) }, 'task accepted (a stage fed by results, from above)');
    this.c.tasks.notifyStatus(taskId);
    const me = { DeviceID: this.c.o.deviceId, OutputURL: this.c.o.publicUrl };
    const plan = { subtaskId: `${taskId}.1`, dispatch: { ...d, TaskID: `${taskId}.1`, ParentTaskID: taskId, DstDeviceList: [me] } };
    this.placeAccepted(taskId, [plan], req!, basic, null);
    return { ok: true, taskId };
  }

  /** `fixedId`: the TaskID to keep (a subtask an upper scheduler dispatched here, cascade B.2); else a new one. */
  private async admit(basic: TaskBasicInfo, owner?: TaskOwner, fixedId?: string): Promise<SubmitOutcome> {
    // Table 17 makes CustomInfo optional and the request is valid without it; but it is where
    // PROTOCOL.md puts the data source and the algorithm, so without it there is nothing to run.
    if (basic.InitiationInfo.CustomInfo === undefined) {
      return { ok: false, message: 'InitiationInfo.CustomInfo: needed here to name the data source (Inputs) and the algorithm (AlgID or AlgType)' };
    }
    const ci = parse(CustomInfo, basic.InitiationInfo.CustomInfo);
    if (!ci.ok) return { ok: false, message: `InitiationInfo.CustomInfo: ${ci.message}` };
    const custom = ci.value;
    // M1: automatic decomposition builds the same DAG a manual Topology would (kept with the task).
    custom.Topology ??= automaticTopology(basic, custom);
    if (custom.Topology) {
      for (const st of custom.Topology.Stages) {
        if (st.AlgID === undefined && st.AlgType === undefined && custom.AlgID === undefined && custom.AlgType === undefined) {
          return { ok: false, message: `InitiationInfo.CustomInfo.Topology: stage "${st.Name}" names no AlgID or AlgType` };
        }
      }
      const why = topologyProblem(custom.Topology);
      if (why) return { ok: false, message: why };
    }
    if (custom.AlgID === undefined && custom.AlgType === undefined && !custom.Topology) {
      if (basic.TaskType === TaskType.FrameExtraction) custom.AlgType = 'frame_extraction';
      else return { ok: false, message: 'InitiationInfo.CustomInfo: AlgID or AlgType is required to pick an algorithm' };
    }
    if (owner) {
      const why = reviewInitiator(owner.name, owner.policy, custom);
      if (why) return { ok: false, message: why };
    }
    const split = partsProblem(custom);
    if (split) return { ok: false, message: split };
    const co = coEvolveOf(custom.AlgArgs);
    if (co && !co.ok) return { ok: false, message: co.message };
    if (custom.StartOn) {
      const why = this.triggers.problem(custom.StartOn, owner?.name ?? null);
      if (why) return { ok: false, message: why };
    }
    if (custom.NotifyURL !== undefined) {
      const why = await this.notifyUrlProblem(custom.NotifyURL);
      if (why) return { ok: false, message: why };
    }
    const w = placementWishes(basic.Constraints, custom);
    if (!w.ok) return { ok: false, message: w.message };
    const req: PlacementRequest = { algId: custom.AlgID, algType: custom.AlgType, ...w.value };
    // No device is queried here. Only a request that would be refused waits (briefly) for the
    // first algorithm lists of devices that just registered and are still answering.
    if (!this.servable(req, custom)) await this.a.algorithms.settle(this.unlistedDevices(), FIRST_LIST_WAIT_MS);
    if (custom.Topology) {
      const short: string[] = [];
      let why = '';
      for (const st of custom.Topology.Stages) {
        const sreq = stageRequest(req, custom, st);
        if (feasible(sreq, this.c.view)) continue;
        short.push(st.Name);
        why ||= `Topology stage "${st.Name}": no online executor${st.DeviceType !== undefined ? ` of DeviceType ${st.DeviceType}` : ''} offers ${sreq.algId !== undefined ? `AlgID ${sreq.algId}` : `AlgType "${sreq.algType}"`}`;
      }
      // B.3: some stages can run here and the others stand alone: only those go up (a request
      // from above, fixedId, is never split again: its scheduler places it elsewhere instead).
      const part = short.length && short.length < custom.Topology.Stages.length && !fixedId && this.partAssist && detachable(custom, short) ? this.partAssist : undefined;
      if (short.length && !part) return { ok: false, short: true, message: why };
      const up = part ? await part.send(basic, custom, short, owner) : undefined;
      if (up && !up.ok) return { ok: false, message: `${why}; upper scheduler: ${up.message}` };
      const taskId = fixedId ?? randomUUID();
      this.c.store.insertTask(taskId, basic, custom, ExecutionStatus.Queued, owner?.name ?? null);
      if (part && up?.ok) part.adopt(taskId, up.upperId, basic, custom, short);
      this.c.log.info({ task: taskId, name: basic.TaskName, stages: custom.Topology.Stages.map((x) => x.Name), ...(up?.ok ? { above: short, upperTask: up.upperId } : {}) }, 'task accepted (manual topology)');
      this.c.tasks.notifyStatus(taskId);
      const plans = planTopology(taskId, basic, custom, { deviceId: this.c.o.deviceId, url: this.c.o.publicUrl }).filter((p) => !short.includes(p.stage?.name ?? ''));
      this.begin(taskId, plans, req, basic, custom, owner?.name ?? null);
      return this.accepted(taskId, custom);
    }
    if (req.pinned) {
      // SB2: every executor named must be able to take its input; the reply names the first that cannot.
      for (const [i, input] of custom.Inputs.entries()) {
        const one = { ...req, nearDeviceId: input.DeviceID };
        if (!feasible(one, this.c.view)) {
          const why = this.c.devices.get(input.DeviceID!) ? whyNot(one, this.c.view) : 'no such executor';
          return { ok: false, message: `InitiationInfo.CustomInfo.Inputs[${i}].DeviceID: ${input.DeviceID} cannot take it (${why || 'it does not offer the algorithm'})` };
        }
      }
    } else if (!feasible(req, this.c.view)) {
      const what = custom.AlgID !== undefined ? `AlgID ${custom.AlgID}` : `AlgType "${custom.AlgType}"`;
      // The reason the filters gave (memory, decode capacity, area…) beats a bare "no".
      const why = whyNot(req, this.c.view);
      return { ok: false, short: true, message: `no online executor offers ${what}${why ? ` that can take it (${why})` : ''}` };
    }
    const taskId = fixedId ?? randomUUID();
    this.c.store.insertTask(taskId, basic, custom, ExecutionStatus.Queued, owner?.name ?? null);
    this.c.log.info({ task: taskId, name: basic.TaskName, inputs: custom.Inputs.length }, 'task accepted');
    this.c.tasks.notifyStatus(taskId);
    const plans = planSubtasks(taskId, basic, custom, { deviceId: this.c.o.deviceId, url: this.c.o.publicUrl });
    this.begin(taskId, plans, req, basic, custom, owner?.name ?? null);
    return this.accepted(taskId, custom);
  }

  private accepted(taskId: string, custom: CustomInfo): SubmitOutcome {
    return custom.NotifyURL ? { ok: true, taskId, notifyKey: notifyKey(this.a.notifySecret, taskId) } : { ok: true, taskId };
  }

  /** Why a NotifyURL may not be used: the URL policy, and never this scheduler itself (a loop). */
  private async notifyUrlProblem(url: string): Promise<string | null> {
    try {
      await checkUrl('InitiationInfo.CustomInfo.NotifyURL', url, 'callback', { mediaDirs: [], allowPrivate: this.c.o.allowPrivateUrls ?? false });
    } catch (err) {
      return (err as Error).message;
    }
    if (sameOrigin(url, this.c.o.publicUrl)) return 'InitiationInfo.CustomInfo.NotifyURL: must not point at this scheduler';
    return null;
  }

  /** Online devices with no algorithm list yet whose first query is in flight. */
  private unlistedDevices(): string[] {
    return this.c.devices.unlisted().filter((id) => this.a.algorithms.isInFlight(id));
  }

  /** Whether some online executor (or the repository) can take the task's algorithm(s) now. */
  private servable(req: PlacementRequest, custom: CustomInfo): boolean {
    const reqs = custom.Topology ? custom.Topology.Stages.map((st) => stageRequest(req, custom, st)) : [req];
    return reqs.every((r) => feasible(r, this.c.view));
  }

}
