/** The SQLite store's batch() (SB9): a batch that throws leaves nothing, the in-memory active counts included. */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SchedulerStore } from '../../src/scheduler/store.ts';
import { openDatabase } from '../../src/sqlite.ts';
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

t.test('SB9: batches are committed a group per turn of the event loop, acknowledged only once committed', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'retinad-store-group-'));
  let store = new SchedulerStore(dir);
  t.teardown(() => { store.close(); rmSync(dir, { recursive: true, force: true }); });
  // A second connection sees what is committed, nothing else (as a process restarted after kill -9 would).
  const other = openDatabase(path.join(dir, 'scheduler.db'));
  t.teardown(() => other.close());
  const committed = (id: string) => other.prepare('SELECT COUNT(*) AS n FROM tasks WHERE task_id = ?').get(id) as { n: number };
  store.batch(() => store.insertTask('a', {} as TaskBasicInfo, {} as CustomInfo, ExecutionStatus.Queued));
  store.batch(() => store.insertTask('b', {} as TaskBasicInfo, {} as CustomInfo, ExecutionStatus.Queued));
  t.equal(store.task('a')?.task_id, 'a', 'this process reads its own writes at once');
  t.equal(committed('a').n + committed('b').n, 0, 'not committed within the turn');
  await store.durable();
  t.equal(committed('a').n + committed('b').n, 2, 'both committed together when durable() resolves');
  t.equal(store.durable() instanceof Promise, true);
  await store.durable(); // nothing open: resolves at once

  // A batch that throws inside a group undoes only its own writes and counts.
  store.batch(() => store.insertSubtask({ subtaskId: 's-ok', taskId: 'a', deviceId: 'd1', dispatch: {} as TaskDispatchInfo, status: ExecutionStatus.Running }));
  t.throws(() => store.batch(() => {
    store.insertSubtask({ subtaskId: 's-bad', taskId: 'a', deviceId: 'd1', dispatch: {} as TaskDispatchInfo, status: ExecutionStatus.Running });
    throw new Error('no');
  }));
  // An inner batch's counts go with an outer batch that fails.
  t.throws(() => store.batch(() => {
    store.batch(() => store.insertSubtask({ subtaskId: 's-inner', taskId: 'a', deviceId: 'd2', dispatch: {} as TaskDispatchInfo, status: ExecutionStatus.Running }));
    throw new Error('outer');
  }));
  await store.durable();
  t.strictSame([store.subtask('s-ok')?.subtask_id, store.subtask('s-bad'), store.subtask('s-inner')], ['s-ok', undefined, undefined], 'the good batch stays, the failed ones are gone');
  t.strictSame([store.activeCount('d1'), store.activeCount('d2')], [1, 0], 'and so are their counts');

  // A commit that fails (here a deferred foreign-key check) rolls the group back, and durable() says so.
  store.db.pragma('defer_foreign_keys = ON');
  store.batch(() => store.insertSubtask({ subtaskId: 's-orphan', taskId: 'no-such-task', deviceId: 'd3', dispatch: {} as TaskDispatchInfo, status: ExecutionStatus.Running }));
  await t.rejects(store.durable(), /FOREIGN KEY/, 'the waiters learn the group was not kept');
  t.equal(store.subtask('s-orphan'), undefined, 'nothing of it is kept');
  t.strictSame([store.activeCount('d3'), store.activeCount('d1')], [0, 1], 'the active counts are read again from what is kept');

  // Closing commits what is open.
  store.batch(() => store.insertTask('c', {} as TaskBasicInfo, {} as CustomInfo, ExecutionStatus.Queued));
  store.close();
  store = new SchedulerStore(dir);
  t.equal(store.task('c')?.task_id, 'c', 'a write made just before close is there after a restart');
});

t.test('SB9: task and subtask rows read from memory are always what the store holds', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'retinad-store-rows-'));
  const store = new SchedulerStore(dir);
  t.teardown(() => { store.close(); rmSync(dir, { recursive: true, force: true }); });
  store.insertTask('t', {} as TaskBasicInfo, {} as CustomInfo, ExecutionStatus.Queued);
  t.equal(store.task('t')?.status, ExecutionStatus.Queued);
  store.setTaskStatus('t', ExecutionStatus.Running);
  t.equal(store.task('t')?.status, ExecutionStatus.Running, 'a status change is read back');
  const row = store.task('t')!;
  row.status = 99;
  t.equal(store.task('t')?.status, ExecutionStatus.Running, 'a caller changing its copy changes nothing');
  t.strictSame(store.subtasks('t'), [], 'no subtasks yet');
  store.insertSubtask({ subtaskId: 't.1', taskId: 't', deviceId: 'd', dispatch: {} as TaskDispatchInfo, status: ExecutionStatus.Queued });
  t.strictSame(store.subtasks('t').map((s) => s.subtask_id), ['t.1'], 'a new subtask is in its task\'s list');
  store.setSubtaskStatus('t.1', { status: ExecutionStatus.Running, progress: 40 });
  t.strictSame([store.subtask('t.1')?.status, store.subtasks('t')[0]?.progress], [ExecutionStatus.Running, 40], 'a status report is read back, row and list');
  store.setSubtaskDispatch('t.1', { TaskID: 't.1' } as TaskDispatchInfo);
  t.match(store.subtask('t.1')?.dispatch_info, /"TaskID":"t\.1"/, 'a new dispatch is read back');
  // A batch that reads its own write and then fails: the read is not kept.
  t.throws(() => store.batch(() => { store.setTaskStatus('t', ExecutionStatus.Error, 1, 'x'); t.equal(store.task('t')?.status, ExecutionStatus.Error); throw new Error('undo'); }));
  t.equal(store.task('t')?.status, ExecutionStatus.Running, 'after the rollback the stored status is read');
  store.deleteTask('t');
  t.strictSame([store.task('t'), store.subtask('t.1'), store.subtasks('t')], [undefined, undefined, []], 'a deleted task is gone with its subtasks');
});
