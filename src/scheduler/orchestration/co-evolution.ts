/**
 * EC8, model co-evolution as a loop nobody drives (the policy: protocol/co-evolve.ts). An
 * inference task with `AlgArgs.CoEvolve` mines hard examples at the edge (DC4); every `Every` new
 * ones from one executor, a round runs as two ordinary tasks the scheduler submits itself:
 *   1. label — the teacher algorithm, on a cloud executor, reads the executor's hard set from its
 *      sample store (`/System/Samples/<set>.rds`, ranged and checked, EC5) and files every
 *      sample under its own answer (`LabelSet`);
 *   2. train — the task's own algorithm is trained further on those labels on the same cloud
 *      executor (TaskType 7, from the newest version); trained-models.ts publishes the result
 *      when it passes `MinAccuracy` and moves the running task to it.
 *
 * Decisions where the standard is silent:
 * - a round per executor of the task: each edge's hard examples are its own traffic's;
 * - a round labels the executor's whole hard set as it stands (the store is bounded), so each
 *   version learns from every hard example kept so far, not only the last `Every`;
 * - one round in flight per task and executor; hard examples arriving meanwhile count toward the
 *   next, which starts when the round ends if `Every` more have come (even after the task ended:
 *   its last hard examples are still taught);
 * - the rounds are tasks like any other: owned by the task's initiator and reviewed against its
 *   policy (a teacher it may not use is refused), listed in TaskList, their results stored;
 * - the loop lives in memory: after a restart a round in flight is not resumed and counting
 *   starts afresh (the next round comes after `Every` more hard examples).
 */
import { createHash } from 'node:crypto';
import { DeviceType, ExecutionStatus, TaskType, coEvolveOf, type CoEvolve, type CustomInfo, type TaskBasicInfo, type TaskResultBody } from '../../protocol/index.ts';
import type { Logger } from '../../log.ts';
import type { SchedulerStateStore } from '../store.ts';
import type { DeviceRegistry } from '../devices.ts';
import type { SubmitOutcome, TaskOwner } from '../options.ts';
import type { Initiators } from '../initiators.ts';
import { isFinal } from '../lifecycle.ts';

export interface CoEvolutionDeps {
  store: SchedulerStateStore;
  devices: DeviceRegistry;
  log: Logger;
  /** The configured initiators: a round runs under its task's initiator's policy. */
  initiators?: Pick<Initiators, 'policyOf'>;
  /** Submits a round's task as `owner` (absent: a node). */
  submit(basic: TaskBasicInfo, owner: TaskOwner | undefined): Promise<SubmitOutcome>;
}

/** One executor's side of a task's loop. */
interface Edge { seen: number; consumed: number; round: number; inFlight?: { stage: 'label' | 'train'; taskId: string } }

interface Loop { policy: CoEvolve; owner: string | null; algId: number; taskType: number; initiator: string; hardSet: string; ended: boolean; edges: Map<string, Edge> }

/** A round's task: whose loop, which executor, and where the labels went. */
interface RoundTask { student: string; device: string; teacher: string; labelSet: string; stage: 'label' | 'train' }

const short = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);

export class CoEvolution {
  /** Parsed policies of the tasks seen (null: no CoEvolve), until the task ends and its rounds are over. */
  private readonly loops = new Map<string, Loop | null>();
  private readonly rounds = new Map<string, RoundTask>();

  constructor(private readonly d: CoEvolutionDeps) {}

  /** A fresh result: its hard examples count toward its executor's next round. */
  onResult(body: TaskResultBody): void {
    const sub = this.d.store.subtask(body.TaskID);
    const taskId = sub?.task_id ?? body.TaskID;
    let hard = 0;
    for (const r of body.TaskResultData.AnalysisResult ?? []) if ((r.ResultData as { HardExample?: unknown } | undefined)?.HardExample === true) hard++;
    if (!hard) return;
    const loop = this.loopOf(taskId);
    if (!loop) return;
    const device = sub?.device_id ?? body.DeviceID;
    let e = loop.edges.get(device);
    if (!e) loop.edges.set(device, (e = { seen: 0, consumed: 0, round: 0 }));
    e.seen += hard;
    this.maybeStart(taskId, loop, device, e);
  }

  /** A task's status changed: a round's stage ended, or a task with a loop ended. */
  onStatus(taskId: string, status: number): void {
    if (!isFinal(status)) return;
    const r = this.rounds.get(taskId);
    if (r) return this.stageEnded(taskId, r, status);
    const loop = this.loops.get(taskId);
    if (loop) { loop.ended = true; this.forgetIfIdle(taskId, loop); }
    else this.loops.delete(taskId);
  }

  /** Rounds in flight (for logs and tests). */
  get inFlight(): number {
    return this.rounds.size;
  }

  private loopOf(taskId: string): Loop | null {
    const hit = this.loops.get(taskId);
    if (hit !== undefined) return hit;
    const t = this.d.store.task(taskId);
    let loop: Loop | null = null;
    if (t) {
      const custom = JSON.parse(t.custom_info) as CustomInfo;
      const basic = JSON.parse(t.basic_info) as TaskBasicInfo;
      const p = coEvolveOf(custom.AlgArgs);
      // Admission refused a malformed policy; a task without AlgID has nothing to train.
      if (p?.ok && custom.AlgID !== undefined) {
        const set = custom.AlgArgs?.HardExampleSet;
        loop = { policy: p.value, owner: t.owner, algId: custom.AlgID, taskType: basic.TaskType ?? TaskType.AIInference, initiator: basic.InitiationInfo.DeviceID, hardSet: typeof set === 'string' ? set : 'hard', ended: isFinal(t.status), edges: new Map() };
      }
    }
    this.loops.set(taskId, loop);
    return loop;
  }

  /** The executor that labels and trains: the named one, else an online cloud executor (the teacher's first). */
  private teacher(p: CoEvolve): string | undefined {
    const usable = (id: string) => { const d = this.d.devices.get(id); return !!d && d.row.online === 1 && d.row.enabled !== 0 && !!d.row.command_url; };
    if (p.TeacherDeviceID !== undefined) return usable(p.TeacherDeviceID) ? p.TeacherDeviceID : undefined;
    const cloud = (ds: ReadonlyArray<{ row: { device_id: string; device_type: string } }>) => ds.filter((d) => d.row.device_type === DeviceType.Cloud && usable(d.row.device_id)).map((d) => d.row.device_id).sort()[0];
    return cloud(this.d.devices.offering({ algId: p.TeacherAlgID })) ?? cloud(this.d.devices.offering({ deviceType: DeviceType.Cloud }));
  }

  private maybeStart(student: string, loop: Loop, device: string, e: Edge): void {
    if (e.inFlight || e.seen - e.consumed < loop.policy.Every) return;
    const teacher = this.teacher(loop.policy);
    const edgeUrl = this.d.devices.get(device)?.row.command_url;
    if (!teacher || !edgeUrl) {
      this.d.log.warn({ task: student, device, teacher: loop.policy.TeacherDeviceID }, 'co-evolution round waits: no online cloud executor to label and train (or the edge has no CommandURL)');
      return;
    }
    const before = e.consumed;
    e.consumed = e.seen;
    e.round++;
    const labelSet = `ce-${short(student)}-${short(device)}-r${e.round}`;
    const basic = this.basic(loop, `co-evolution r${e.round} label: ${student}`, loop.taskType, {
      AlgID: loop.policy.TeacherAlgID, AlgArgs: { LabelSet: labelSet },
      Inputs: [{ DeviceID: teacher, StreamURL: `${edgeUrl}/System/Samples/${loop.hardSet}.rds` }],
    });
    this.start(student, loop, device, e, basic, { student, device, teacher, labelSet, stage: 'label' }, before);
  }

  private basic(loop: Loop, name: string, taskType: number, custom: Record<string, unknown>): TaskBasicInfo {
    return { TaskName: name, TaskType: taskType, Constraints: { DeployOn: 'input-device' }, InitiationInfo: { DeviceID: loop.initiator, CustomInfo: custom } } as TaskBasicInfo;
  }

  /** Submits a round's stage; a refusal ends the round (its hard examples count again toward the next). */
  private start(student: string, loop: Loop, device: string, e: Edge, basic: TaskBasicInfo, r: RoundTask, consumedBefore: number): void {
    e.inFlight = { stage: r.stage, taskId: '' };
    void this.submitAs(basic, loop.owner).then((out) => {
      if (out.ok) {
        e.inFlight = { stage: r.stage, taskId: out.taskId };
        this.rounds.set(out.taskId, r);
        this.d.log.info({ task: student, device, round: e.round, stage: r.stage, roundTask: out.taskId }, 'co-evolution round stage submitted');
        // It may have ended already (a refusal by every executor is recorded at once).
        const t = this.d.store.task(out.taskId);
        if (t && isFinal(t.status)) this.onStatus(out.taskId, t.status);
        return;
      }
      this.d.log.warn({ task: student, device, round: e.round, stage: r.stage, why: out.message }, 'co-evolution round stage refused');
      e.inFlight = undefined;
      if (r.stage === 'label') e.consumed = consumedBefore;
      this.forgetIfIdle(student, loop);
    }, (err: Error) => {
      this.d.log.error({ task: student, err: err.message }, 'co-evolution round failed');
      e.inFlight = undefined;
    });
  }

  /** As the task's initiator, under its policy now; an initiator no longer configured submits nothing. */
  private submitAs(basic: TaskBasicInfo, owner: string | null): Promise<SubmitOutcome> {
    if (owner === null) return this.d.submit(basic, undefined);
    const policy = this.d.initiators?.policyOf(owner);
    if (!policy) return Promise.resolve({ ok: false, message: `initiator "${owner}" is no longer configured` });
    return this.d.submit(basic, { name: owner, policy });
  }

  private stageEnded(taskId: string, r: RoundTask, status: number): void {
    this.rounds.delete(taskId);
    const loop = this.loops.get(r.student);
    const e = loop?.edges.get(r.device);
    if (!loop || !e) return;
    const t = this.d.store.task(taskId);
    const ok = status === ExecutionStatus.Done && !t?.exception_code;
    if (r.stage === 'label' && ok) {
      const teacherUrl = this.d.devices.get(r.teacher)?.row.command_url;
      if (teacherUrl) {
        const p = loop.policy;
        const args: Record<string, unknown> = { Epochs: p.Epochs ?? 5, ...(p.MinAccuracy !== undefined ? { MinAccuracy: p.MinAccuracy } : {}), ...(p.ValidationURL !== undefined ? { ValidationURL: p.ValidationURL } : {}) };
        const basic = this.basic(loop, `co-evolution r${e.round} train: ${r.student}`, TaskType.AITraining, {
          AlgID: loop.algId, AlgArgs: args, Inputs: [{ DeviceID: r.teacher, StreamURL: `${teacherUrl}/System/Samples/${r.labelSet}.rds` }],
        });
        return this.start(r.student, loop, r.device, e, basic, { ...r, stage: 'train' }, e.consumed);
      }
    }
    this.d.log.info({ task: r.student, device: r.device, round: e.round, stage: r.stage, ok }, ok ? 'co-evolution round done' : 'co-evolution round ended without a model');
    e.inFlight = undefined;
    this.maybeStart(r.student, loop, r.device, e);
    this.forgetIfIdle(r.student, loop);
  }

  /** An ended task's loop is forgotten once no round of it is in flight. */
  private forgetIfIdle(student: string, loop: Loop): void {
    if (loop.ended && ![...loop.edges.values()].some((e) => e.inFlight)) this.loops.delete(student);
  }
}
