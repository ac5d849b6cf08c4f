/**
 * Operation sequences for the store contract test: fast-check arbitraries over small id pools (so
 * writes collide: upserts, duplicates, deletes of what exists and what does not), a way to apply
 * one to any SchedulerStateStore, and every read of the interface gathered into one plain value
 * that two stores can be compared by.
 */
import fc from 'fast-check';
import type { AlgResource, AvailableResource, CustomInfo, TaskBasicInfo, TaskDispatchInfo, TaskResultBody, TotalResource } from '../../src/protocol/index.ts';
import type { SchedulerStateStore } from '../../src/scheduler/store-types.ts';

export const DEVICES = ['d1', 'd2', 'd3'];
export const TASKS = ['t1', 't2', 't3'];
export const SUBTASKS = ['s1', 's2', 's3', 's4'];
const OWNERS = [null, 'alice', 'bob'];
const DEDUP = [null, 'k1', 'k2', 'k3'];

export type Op =
  | { k: 'upsertDevice'; id: string; type: string; name?: string }
  | { k: 'touchDevice'; id: string; at: number }
  | { k: 'setOnline' | 'setEnabled'; id: string; on: boolean }
  | { k: 'deleteDevice' | 'deleteTask'; id: string }
  | { k: 'setTotal' | 'setAvailable' | 'setAlg'; id: string; n: number }
  | { k: 'insertTask'; id: string; status: number; owner: string | null }
  | { k: 'setTaskStatus'; id: string; status: number; code: number | null }
  | { k: 'insertSubtask'; id: string; task: string; device: string; status: number; attempts?: number }
  | { k: 'setDispatch'; id: string; n: number }
  | { k: 'setSubtaskStatus'; id: string; status: number; progress?: number; code?: number }
  | { k: 'insertResult'; task: string; sub: string; dedup: string | null; pts: number; pad: number; kind: 'image' | 'video' | 'analysis' | 'none' }
  | { k: 'batch'; ops: Op[]; fail: boolean };

const of = <T>(xs: readonly T[]) => fc.constantFrom(...xs);
const status = fc.integer({ min: 0, max: 4 });
const dev = of(DEVICES.concat('dx'));
const task = of(TASKS);
const sub = of(SUBTASKS);

const single: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ k: fc.constant('upsertDevice' as const), id: dev, type: of(['1', '2']), name: fc.option(of(['a', 'b']), { nil: undefined }) }, { requiredKeys: ['k', 'id', 'type'] }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('touchDevice' as const), id: dev, at: fc.integer({ min: 0, max: 2_000_000_000_000 }) }) },
  { weight: 1, arbitrary: fc.record({ k: of(['setOnline', 'setEnabled'] as const), id: dev, on: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: of(['deleteDevice'] as const), id: dev }) },
  { weight: 1, arbitrary: fc.record({ k: of(['setTotal', 'setAvailable', 'setAlg'] as const), id: dev, n: fc.nat(9) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('insertTask' as const), id: of(TASKS.concat('t4')), status, owner: of(OWNERS) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('setTaskStatus' as const), id: task, status, code: fc.option(of([10, 50]), { nil: null }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('deleteTask' as const), id: of(TASKS.concat('t9')) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('insertSubtask' as const), id: sub, task: of(TASKS.concat('tx')), device: dev, status, attempts: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }) }, { requiredKeys: ['k', 'id', 'task', 'device', 'status'] }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('setDispatch' as const), id: sub, n: fc.nat(9) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('setSubtaskStatus' as const), id: sub, status, progress: fc.option(fc.nat(100), { nil: undefined }), code: fc.option(of([20, 60]), { nil: undefined }) }, { requiredKeys: ['k', 'id', 'status'] }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('insertResult' as const), task: of(TASKS.concat('tr')), sub, dedup: of(DEDUP), pts: fc.nat(100_000), pad: fc.nat(300), kind: of(['image', 'video', 'analysis', 'none'] as const) }) },
);

/** A sequence of operations; some are batches, some of which throw at their end (a rollback). */
export const opSequence: fc.Arbitrary<Op[]> = fc.array(fc.oneof({ weight: 6, arbitrary: single },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('batch' as const), ops: fc.array(single, { minLength: 1, maxLength: 5 }), fail: fc.boolean() }) }), { minLength: 5, maxLength: 60, size: 'max' });

function resultBody(op: Extract<Op, { k: 'insertResult' }>): TaskResultBody {
  const data = op.kind === 'image' ? { ImageResult: { ImageInfo: { Pts: op.pts } } }
    : op.kind === 'video' ? { VideoResult: { VideoSliceInfo: { StartMs: op.pts, DurationMs: 2000 } } }
      : op.kind === 'analysis' ? { AnalysisResult: [{ ResultData: { Pts: op.pts } }, { ResultData: { Pts: op.pts - 5 } }] } : {};
  return { TaskID: op.sub, DeviceID: 'd1', DstDeviceList: [], AlgID: 1, AlgVersion: '1.0', Ts: op.pts, TaskResultData: { ...data, Pad: 'x'.repeat(op.pad) } } as unknown as TaskResultBody;
}

/** Applies one operation; what it returned, or 'threw'. */
export function applyOp(s: SchedulerStateStore, op: Op): unknown {
  try {
    switch (op.k) {
      case 'upsertDevice': return s.upsertDevice({ deviceId: op.id, deviceType: op.type, productType: 'p', deviceName: op.name, commandUrl: `http://${op.id}` }, Date.now());
      case 'touchDevice': return s.touchDevice(op.id, op.at);
      case 'setOnline': return s.setOnline(op.id, op.on);
      case 'setEnabled': return s.setEnabled(op.id, op.on);
      case 'deleteDevice': return s.deleteDevice(op.id);
      case 'deleteTask': return s.deleteTask(op.id);
      case 'setTotal': return s.setTotalResource({ DeviceID: op.id, ResourceInfo: { n: op.n } } as unknown as TotalResource);
      case 'setAvailable': return s.setAvailableResource({ DeviceID: op.id, ResourceInfo: { n: op.n } } as unknown as AvailableResource);
      case 'setAlg': return s.setAlgResource(op.id, { DeviceID: op.id, AlgInfoList: [{ AlgID: op.n }] } as unknown as AlgResource, Date.now());
      case 'insertTask': return s.insertTask(op.id, { TaskName: op.id } as unknown as TaskBasicInfo, { AlgID: 1 } as unknown as CustomInfo, op.status, op.owner);
      case 'setTaskStatus': return s.setTaskStatus(op.id, op.status, op.code, op.code === null ? null : 'why');
      case 'insertSubtask': return s.insertSubtask({ subtaskId: op.id, taskId: op.task, deviceId: op.device, dispatch: { v: 0 } as unknown as TaskDispatchInfo, status: op.status, attempts: op.attempts });
      case 'setDispatch': return s.setSubtaskDispatch(op.id, { v: op.n } as unknown as TaskDispatchInfo);
      case 'setSubtaskStatus': return s.setSubtaskStatus(op.id, { status: op.status, progress: op.progress, exceptionCode: op.code, exceptionDesc: op.code === undefined ? undefined : 'e' });
      case 'insertResult': return s.insertResult(op.task, resultBody(op), op.dedup);
      case 'batch': return s.batch(() => {
        const out = op.ops.map((o) => applyOp(s, o));
        if (op.fail) throw new Error('rolled back');
        return out;
      });
    }
  } catch {
    return 'threw';
  }
}

/** Applies a sequence with a clock that moves every second operation (so created_at ties happen); returns what each op returned. */
export function applyAll(s: SchedulerStateStore, ops: Op[], base = 1_700_000_000_000): unknown[] {
  const realNow = Date.now;
  try {
    return ops.map((op, i) => { Date.now = () => base + Math.floor(i / 2); return applyOp(s, op); });
  } finally {
    Date.now = realNow;
  }
}

const page = (r: ReturnType<SchedulerStateStore['results']>) => ({ rows: r.map((x) => ({ seq: x.seq, body: x.body })), full: r.full ?? false });

/** Every read of the interface over the id pools, as one plain value. */
export function readAll(s: SchedulerStateStore): Record<string, unknown> {
  const taskIds = TASKS.concat('t4', 'tr', 'tx');
  const statusSets = [[], [1], [3, 1], [0, 1, 2, 3, 4], [2, 2]];
  return {
    devices: s.devices(),
    device: DEVICES.concat('dx', 'nope').map((id) => s.device(id) ?? null),
    task: taskIds.map((id) => s.task(id) ?? null),
    recent: [0, 1, 2, 5, -1].flatMap((l) => [s.recentTasks(l), s.recentTasks(l, 'alice'), s.recentTasks(l, 'bob')]),
    byStatus: statusSets.map((st) => s.tasksByStatus(st)),
    counts: [...s.taskCountsByStatus()],
    subtask: SUBTASKS.concat('nope').map((id) => s.subtask(id) ?? null),
    subtasks: taskIds.map((id) => s.subtasks(id)),
    onDevice: DEVICES.concat('dx').flatMap((d) => statusSets.map((st) => s.subtasksOnDevice(d, st))),
    active: DEVICES.concat('dx').map((d) => s.activeCount(d)),
    activeAll: [...s.activeCountByDevice()].sort(([a], [b]) => (a < b ? -1 : 1)),
    history: taskIds.flatMap((id) => [s.statusHistory(id), s.statusHistory(id, false)]),
    results: taskIds.flatMap((id) => [[0, 100], [0, 2], [2, 1], [3, -1], [0, 0]].flatMap(([after, limit]) => [page(s.results(id, after!, limit!)), page(s.results(id, after!, limit!, 500))])),
    resultCount: taskIds.map((id) => s.resultCount(id)),
    resume: SUBTASKS.concat('nope').map((id) => s.resumeAfterMs(id, 40)),
  };
}
