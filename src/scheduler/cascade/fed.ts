/**
 * B.2 step 3, a stage fed by results across levels: the upper scheduler dispatched here a stage
 * whose input is another subtask's results (its Dependencies), and that other subtask runs
 * elsewhere — at another site, whose scheduler relays its results only upwards. The upper
 * scheduler forwards them here (orchestration/orchestrator.ts), naming the upstream subtask in
 * TaskID; this room passes each on to the executor this scheduler chose for the stage, and only
 * then answers, so the upper scheduler's "finish" for the stage cannot overtake a result.
 * Only results from the upper scheduler are taken (the caller checks the sender is a node, not a
 * device session): an executor here cannot feed another task's stage.
 */
import type Database from 'better-sqlite3';
import { CommandType, Control, TaskOpsControlReply, TaskResultReply, type CommandReplyBody, type TaskResultBody } from '../../protocol/index.ts';
import type { RetinaClient } from '../../net/client.ts';
import type { Logger } from '../../log.ts';
import { ACTIVE_STATUSES, type SchedulerStateStore } from '../store.ts';
import type { DeviceRegistry } from '../devices.ts';

const SCHEMA = `CREATE TABLE IF NOT EXISTS cascade_fed (
  dep_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  PRIMARY KEY (dep_id, task_id)
)`;
/** How long a forwarded result waits for the stage's placement here to finish (dispatched, placed in the background); under the upper scheduler's 10 s command timeout. */
const PLACEMENT_WAIT_MS = 8000;

export interface FedDeps {
  db: Database.Database;
  store: SchedulerStateStore;
  devices: DeviceRegistry;
  client: RetinaClient;
  log: Logger;
}

export class FedStages {
  constructor(private readonly d: FedDeps) {
    d.db.exec(SCHEMA);
  }

  /** Task `taskId` (from above) is fed by the results of the upper scheduler's subtasks `deps`. */
  record(taskId: string, deps: readonly string[]): void {
    const ins = this.d.db.prepare('INSERT OR IGNORE INTO cascade_fed (dep_id, task_id) VALUES (?, ?)');
    for (const dep of deps) ins.run(dep, taskId);
  }

  /** Whether a result naming `depId` feeds a stage here. */
  feeds(depId: string): boolean {
    return this.d.db.prepare('SELECT 1 FROM cascade_fed WHERE dep_id = ?').get(depId) !== undefined;
  }

  /** Whether task `taskId` (from above) is a stage fed by results. */
  isFed(taskId: string): boolean {
    return this.d.db.prepare('SELECT 1 FROM cascade_fed WHERE task_id = ?').get(taskId) !== undefined;
  }

  /**
   * A Stop from above for a fed stage: its executor finishes what it was given, then reports
   * done itself (as orchestrator.ts finishIfFed tells an executor under the upper scheduler). It
   * is not recorded as stopped here: the upper scheduler sends this Stop both when the stage's
   * upstreams ended and when its initiator stopped the task, and only it knows which (it marks
   * its own subtask stopped, ExceptionCode 90, in the second case).
   */
  async finish(taskId: string): Promise<string | null> {
    const sub = this.d.store.subtasks(taskId).find((s) => ACTIVE_STATUSES.includes(s.status) && s.device_id !== '-');
    const dev = sub && this.d.devices.row(sub.device_id);
    if (!sub || !dev?.command_url) return null;
    try {
      await this.d.client.sendCommand(dev.command_url, { CommandType: CommandType.TaskOpsControl, DeviceID: dev.device_id,
        MessageBody: { OpsControlList: [{ DeviceID: dev.device_id, TaskID: sub.subtask_id, Control: Control.Stop }] } }, TaskOpsControlReply);
      return null;
    } catch (err) {
      return `subtask ${sub.subtask_id}: ${dev.device_id}: ${(err as Error).message}`;
    }
  }

  /** Passes one forwarded result on to the executors of the stages it feeds; the reply says whether each took it. */
  async forward(body: TaskResultBody): Promise<CommandReplyBody> {
    const tasks = (this.d.db.prepare('SELECT task_id FROM cascade_fed WHERE dep_id = ?').all(body.TaskID) as Array<{ task_id: string }>).map((r) => r.task_id);
    const problems: string[] = [];
    for (const taskId of tasks) {
      const why = await this.forwardTo(taskId, body);
      if (why) problems.push(`task ${taskId}: ${why}`);
    }
    return problems.length ? { StatusCode: '1', Message: problems.join('; ') } : { StatusCode: '0' };
  }

  private async forwardTo(taskId: string, body: TaskResultBody): Promise<string | null> {
    const end = Date.now() + PLACEMENT_WAIT_MS;
    for (;;) {
      const task = this.d.store.task(taskId);
      if (!task || !ACTIVE_STATUSES.includes(task.status)) return null; // ended here: nothing to feed
      const sub = this.d.store.subtasks(taskId).find((s) => ACTIVE_STATUSES.includes(s.status) && s.device_id !== '-');
      const dev = sub && this.d.devices.row(sub.device_id);
      if (sub && dev?.command_url && dev.online) {
        try {
          await this.d.client.sendCommand(dev.command_url, { CommandType: CommandType.TaskResult, DeviceID: dev.device_id, MessageBody: body }, TaskResultReply);
          return null;
        } catch (err) {
          this.d.log.warn({ task: taskId, from: body.TaskID, err: (err as Error).message }, 'could not pass a result on to a stage fed from above');
          return `${dev.device_id}: ${(err as Error).message}`;
        }
      }
      if (Date.now() >= end) return 'the stage is not placed on an executor here (yet)';
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
