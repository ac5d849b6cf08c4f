/**
 * SB11: a task one of whose subtasks failed for good and cannot be retried is rolled back, when
 * its FailurePolicy says so: its other unfinished subtasks are stopped on their executors and
 * recorded as failed because of it (ExceptionCode 30, "前置任务异常"), so the task reports one
 * consistent state — ExecutionStatus 4 with the failed subtask's own code — and nothing of it
 * keeps running. What was delivered (stored results) is kept.
 *
 * Default where the standard is silent: a DAG rolls back (its stages feed each other: the rest
 * is useless without the failed part); independent subtasks (one per input) continue, since one
 * dead camera should not blind the others.
 */
import { CommandType, Control, ExceptionCode, ExecutionStatus, TaskOpsControlReply, EXCEPTION_DESC_MAX_BYTES, cutUtf8, type CustomInfo } from '../../protocol/index.ts';
import { ACTIVE_STATUSES, type SubtaskRow } from '../store.ts';
import type { SchedulerParts } from '../context.ts';

export function rollsBack(custom: CustomInfo): boolean {
  return (custom.FailurePolicy?.OnFailure ?? (custom.Topology ? 'Rollback' : 'Continue')) === 'Rollback';
}

/** Stops and fails the task's other unfinished subtasks because `failed` failed for good. */
export async function rollback(c: SchedulerParts, failed: SubtaskRow, code: number): Promise<void> {
  const others = c.store.subtasks(failed.task_id).filter((s) => s.subtask_id !== failed.subtask_id && ACTIVE_STATUSES.includes(s.status));
  if (!others.length) return;
  // No retry, migration or conditional start for any of them from here on.
  c.flags.stopped.add(failed.task_id);
  c.log.warn({ task: failed.task_id, failed: failed.subtask_id, code, rolledBack: others.map((s) => s.subtask_id) }, 'rolling back the task');
  const desc = cutUtf8(`rolled back: subtask ${failed.subtask_id} failed (ExceptionCode ${code})`, EXCEPTION_DESC_MAX_BYTES);
  for (const s of others) c.store.setSubtaskStatus(s.subtask_id, { status: ExecutionStatus.Error, exceptionCode: ExceptionCode.UpstreamFailed, exceptionDesc: desc });
  c.tasks.update(failed.task_id);
  await Promise.all(others.map(async (s) => {
    const dev = c.devices.row(s.device_id);
    if (!dev?.command_url || !dev.online) return;
    try {
      await c.client.sendCommand(dev.command_url, { CommandType: CommandType.TaskOpsControl, DeviceID: dev.device_id,
        MessageBody: { OpsControlList: [{ DeviceID: dev.device_id, TaskID: s.subtask_id, Control: Control.Stop }] } }, TaskOpsControlReply);
    } catch (err) {
      c.log.warn({ subtask: s.subtask_id, device: dev.device_id, err: (err as Error).message }, 'rollback: could not stop a subtask');
    }
  }));
}
