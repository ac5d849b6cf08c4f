/** The SQLite store's batch() (SB9): a batch that throws leaves nothing, the in-memory active counts included. */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SchedulerStore } from '../../src/scheduler/store.ts';
import { ExecutionStatus, type CustomInfo, type TaskBasicInfo, type TaskDispatchInfo } from '../../src/protocol/index.ts';

t.test('SB9: a rolled-back batch puts the active counts back with the rows (found by the etcd store contract test)', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'retinad-store-batch-'));
  const store = new SchedulerStore(dir);
  t.teardown(() => { store.close(); rmSync(dir, { recursive: true, force: true }); });
  store.insertTask('t1', {} as TaskBasicInfo, {} as CustomInfo, ExecutionStatus.Queued);
  const counts = store.activeCountByDevice();
  t.throws(() => store.batch(() => {
    store.insertSubtask({ subtaskId: 's1', taskId: 't1', deviceId: 'd1', dispatch: {} as TaskDispatchInfo, status: ExecutionStatus.Running });
    t.equal(store.activeCount('d1'), 1, 'counted inside the batch');
    throw new Error('rolled back');
  }), /rolled back/);
  t.equal(store.subtask('s1'), undefined, 'the row is gone');
  t.equal(store.activeCount('d1'), 0, 'and so is its count');
  t.equal(store.activeCountByDevice(), counts, 'the live view is the same map');
  await store.durable();
});
