/**
 * SB9: the rows the SQLite store keeps in memory (row-cache.ts) are written through: after any
 * sequence of writes — failed batches, deletes and replaced subtasks among them — every task,
 * subtask and subtask list the store answers with is what a fresh read of the file gives.
 */
import t from 'tap';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual as same } from 'node:util';
import { SchedulerStore } from '../../src/scheduler/store.ts';
import { openDatabase } from '../../src/sqlite.ts';
import { ExecutionStatus, type CustomInfo, type TaskBasicInfo, type TaskDispatchInfo } from '../../src/protocol/index.ts';
import { FC_SEED } from '../helpers/seed.ts';

const TASKS = ['t1', 't2', 't3'];
// Subtask IDs in SQLite's byte order and in JavaScript's, which differ past the BMP ('😀' vs '\uFFFD').
const SUBS = ['a', 'b', 'c', 'é', '\uFFFD', '😀'];
const status = fc.constantFrom(ExecutionStatus.Queued, ExecutionStatus.Running, ExecutionStatus.Paused, ExecutionStatus.Done, ExecutionStatus.Error);
const op = fc.oneof(
  fc.record({ k: fc.constant('task' as const), task: fc.constantFrom(...TASKS), status }),
  fc.record({ k: fc.constant('subtask' as const), task: fc.constantFrom(...TASKS), sub: fc.constantFrom(...SUBS), device: fc.constantFrom('d1', 'd2'), status }),
  fc.record({ k: fc.constant('status' as const), task: fc.constantFrom(...TASKS), sub: fc.constantFrom(...SUBS), status, progress: fc.option(fc.nat(100), { nil: undefined }), code: fc.option(fc.nat(99), { nil: null }) }),
  fc.record({ k: fc.constant('taskStatus' as const), task: fc.constantFrom(...TASKS), status, desc: fc.option(fc.string({ maxLength: 8 }), { nil: null }) }),
  fc.record({ k: fc.constant('dispatch' as const), task: fc.constantFrom(...TASKS), sub: fc.constantFrom(...SUBS), n: fc.nat(9) }),
  fc.record({ k: fc.constant('delete' as const), task: fc.constantFrom(...TASKS) }),
  fc.record({ k: fc.constant('failedBatch' as const), task: fc.constantFrom(...TASKS), sub: fc.constantFrom(...SUBS), status }),
);

t.test('SB9: after any writes, the rows kept in memory are the rows in the file', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'retinad-row-cache-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let run = 0;
  await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 10, maxLength: 60 }), async (ops) => {
    const d = path.join(dir, String(run++));
    const store = new SchedulerStore(d);
    const file = openDatabase(path.join(d, 'scheduler.db'));
    try {
      const subId = (task: string, sub: string) => `${task}.${sub}`;
      // Every task with two of its subtasks to start from; the operations add, replace and delete.
      for (const task of TASKS) {
        store.insertTask(task, { TaskName: task } as TaskBasicInfo, {} as CustomInfo, ExecutionStatus.Queued);
        for (const sub of SUBS.slice(0, 2)) store.insertSubtask({ subtaskId: subId(task, sub), taskId: task, deviceId: 'd1', dispatch: {} as TaskDispatchInfo, status: ExecutionStatus.Queued });
      }
      for (const o of ops) {
        const has = !!store.task(o.task);
        if (o.k === 'task') { if (!has) store.insertTask(o.task, { TaskName: o.task } as TaskBasicInfo, {} as CustomInfo, o.status); }
        else if (o.k === 'subtask') { if (has) store.insertSubtask({ subtaskId: subId(o.task, o.sub), taskId: o.task, deviceId: o.device, dispatch: { n: 0 } as unknown as TaskDispatchInfo, status: o.status }); }
        else if (o.k === 'status') store.setSubtaskStatus(subId(o.task, o.sub), { status: o.status, ...(o.progress !== undefined ? { progress: o.progress } : {}), exceptionCode: o.code });
        else if (o.k === 'taskStatus') store.setTaskStatus(o.task, o.status, null, o.desc);
        else if (o.k === 'dispatch') store.setSubtaskDispatch(subId(o.task, o.sub), { n: o.n } as unknown as TaskDispatchInfo);
        else if (o.k === 'delete') store.deleteTask(o.task);
        else if (has) {
          try {
            store.batch(() => {
              store.setSubtaskStatus(subId(o.task, o.sub), { status: o.status });
              store.setTaskStatus(o.task, o.status, 1, 'x');
              throw new Error('undone');
            });
          } catch { /* the batch's writes are gone */ }
        }
        await store.durable();
        for (const task of TASKS) {
          if (!same(store.task(task), file.prepare('SELECT * FROM tasks WHERE task_id = ?').get(task))) return false;
          const list = file.prepare('SELECT * FROM subtasks WHERE task_id = ? ORDER BY subtask_id').all(task);
          if (!same(store.subtasks(task), list)) return false;
          for (const sub of SUBS) if (!same(store.subtask(subId(task, sub)), file.prepare('SELECT * FROM subtasks WHERE subtask_id = ?').get(subId(task, sub)))) return false;
        }
      }
      return true;
    } finally {
      file.close();
      store.close();
    }
  }), { numRuns: 60, seed: FC_SEED });
  t.pass('the rows agree');
});
