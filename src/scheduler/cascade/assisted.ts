/**
 * B.3 step 4, assisted scheduling: a task this (lower) scheduler accepted but handed to its
 * upper scheduler to place, because no executor here could take it. The initiator still deals
 * with this scheduler only: the task is kept here under the TaskID the upper one gave it, with
 * the upper one's subtasks mirrored (their executor is the upper scheduler), and its status and
 * results are fetched from above (TaskInfo, TaskResult pages, with the node token: the upstream
 * URL is a configured peer) and stored and pushed to the initiator's NotifyURL as for any task.
 * Controls of such a task are forwarded upwards.
 *
 * Part of a task (B.3 "协助调度部分任务"): when only some of a task's stages cannot run here,
 * just those are handed up, as a request of their own; `upper_id` is then the upper scheduler's
 * TaskID for that part, its subtasks are mirrored under this task beside the ones placed here,
 * and a control of the task goes up for that part and to the executors here for the rest.
 *
 * Pull, not push, for the part above: the upper scheduler's NotifyURL pushes are best effort
 * (a few retries, then dropped: notifier.ts), and would need this scheduler to take unauthenticated
 * commands from the network; reading TaskResult after a stored cursor, with the node token, from
 * the configured upstream only, loses nothing across outages and restarts and stores each result
 * once. The cost is latency (a round every `pollMs`, 1 s by default).
 */
import type Database from 'better-sqlite3';
import { joinUrl, type RetinaClient } from '../../net/client.ts';
import { CommandType, ExecutionStatus, type OpsControl, type TaskDispatchInfo, type TaskInfo, type TaskResult, type TaskResultBody, type TaskResultPage } from '../../protocol/index.ts';
import type { Logger } from '../../log.ts';
import type { SchedulerStateStore } from '../store.ts';

const SCHEMA = `CREATE TABLE IF NOT EXISTS cascade_assisted (
  task_id TEXT PRIMARY KEY,
  cursor TEXT NOT NULL DEFAULT '0',
  ordinal INTEGER NOT NULL DEFAULT 0,
  done INTEGER NOT NULL DEFAULT 0,
  upper_id TEXT
)`;
const PAGE = 200;

export interface AssistedDeps {
  upstreamUrl: string;
  upperId(): string;
  /** Holds the node token; sends only to the upstream URL. */
  client: RetinaClient;
  store: SchedulerStateStore;
  db: Database.Database;
  log: Logger;
  /** Re-derives a task's status from its subtasks and tells its initiator. */
  update(taskId: string): void;
  onTaskResult(cmd: TaskResult, sender: string): { ok: boolean };
  pollMs?: number;
}

export class AssistedTasks {
  private timer: NodeJS.Timeout | null = null;
  private polling = false;

  constructor(private readonly d: AssistedDeps) {
    d.db.exec(SCHEMA);
    // A data dir from before parts were handed up: its rows are whole tasks (upper_id NULL).
    const cols = d.db.prepare('PRAGMA table_info(cascade_assisted)').all() as Array<{ name: string }>;
    if (!cols.some((c) => c.name === 'upper_id')) d.db.exec('ALTER TABLE cascade_assisted ADD COLUMN upper_id TEXT');
  }

  has(taskId: string): boolean {
    return this.row(taskId) !== undefined;
  }

  /** The upper scheduler's TaskID for what of `taskId` runs above (the same id for a whole task). */
  private row(taskId: string): { upper: string; part: boolean } | undefined {
    const r = this.d.db.prepare('SELECT upper_id FROM cascade_assisted WHERE task_id = ?').get(taskId) as { upper_id: string | null } | undefined;
    return r && { upper: r.upper_id ?? taskId, part: r.upper_id !== null };
  }

  add(taskId: string): void {
    this.d.db.prepare('INSERT OR IGNORE INTO cascade_assisted (task_id) VALUES (?)').run(taskId);
  }

  /**
   * Part of `taskId` runs above as the upper scheduler's task `upperId`; `subtasks` are the
   * subtasks it will have there (planned the same way), shown here queued at once, so the task
   * is not taken for done while only the part here has finished.
   */
  addPart(taskId: string, upperId: string, subtasks: Array<{ subtaskId: string; dispatch: TaskDispatchInfo }>): void {
    const upper = this.d.upperId();
    this.d.store.batch(() => {
      for (const s of subtasks) if (!this.d.store.subtask(s.subtaskId)) this.d.store.insertSubtask({ subtaskId: s.subtaskId, taskId, deviceId: upper, dispatch: s.dispatch, status: ExecutionStatus.Queued, attempts: 1 });
    });
    this.d.db.prepare('INSERT OR IGNORE INTO cascade_assisted (task_id, upper_id) VALUES (?, ?)').run(taskId, upperId);
  }

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.d.pollMs ?? 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** One round over the tasks still running above (one round at a time). */
  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const rows = this.d.db.prepare('SELECT task_id, cursor, ordinal, upper_id FROM cascade_assisted WHERE done = 0').all() as Array<{ task_id: string; cursor: string; ordinal: number; upper_id: string | null }>;
      for (const r of rows) {
        try { await this.follow(r.task_id, r.upper_id ?? r.task_id, r.cursor, r.ordinal); } catch (err) { this.d.log.debug({ task: r.task_id, err: (err as Error).message }, 'assisted task: upper scheduler not reachable'); }
      }
    } finally {
      this.polling = false;
    }
  }

  /** Mirrors the subtasks of `upperId` (the task above) under `taskId`, then stores the results after the cursor; done once it ended above and all are here. */
  private async follow(taskId: string, upperId: string, cursor: string, ordinal: number): Promise<void> {
    const ti = await this.d.client.send('GET', joinUrl(this.d.upstreamUrl, `/System/TaskInfo/${encodeURIComponent(upperId)}`));
    const info = (ti.body as { TaskInfo?: TaskInfo } | undefined)?.TaskInfo;
    if (ti.status === 404) { this.d.db.prepare('UPDATE cascade_assisted SET done = 1 WHERE task_id = ?').run(taskId); return; }
    if (!info) throw new Error(`TaskInfo: HTTP ${ti.status}`);
    const upper = this.d.upperId();
    this.d.store.batch(() => {
      for (const s of info.SubtaskInfoList ?? []) {
        const id = s.TaskDispatchInfo.TaskID;
        const st = s.TaskStatusInfo;
        if (!this.d.store.subtask(id)) this.d.store.insertSubtask({ subtaskId: id, taskId, deviceId: upper, dispatch: s.TaskDispatchInfo, status: st.ExecutionStatus, attempts: 1 });
        const cur = this.d.store.subtask(id);
        // A part's subtask shown before the upper scheduler placed it: its dispatch as placed there.
        const dispatch = JSON.stringify(s.TaskDispatchInfo);
        if (cur && cur.dispatch_info !== dispatch) this.d.store.setSubtaskDispatch(id, s.TaskDispatchInfo);
        if (cur && (cur.status !== st.ExecutionStatus || cur.progress !== (st.Progress ?? 0))) {
          this.d.store.setSubtaskStatus(id, { status: st.ExecutionStatus, progress: st.Progress, exceptionCode: st.ExceptionCode ?? null, exceptionDesc: st.ExceptionDesc ?? null });
        }
      }
    });
    // Results before the status: an initiator told "done" has had every result.
    let full = true;
    while (full) {
      const r = await this.d.client.send('GET', joinUrl(this.d.upstreamUrl, `/System/TaskResult/${encodeURIComponent(upperId)}?after=${encodeURIComponent(cursor)}&limit=${PAGE}`));
      const page = r.body as TaskResultPage | undefined;
      if (r.status !== 200 || !page) throw new Error(`TaskResult: HTTP ${r.status}`);
      const list: TaskResultBody[] = page.TaskResultList;
      // A page that is not full has no cursor after it: it is read again next time, and its
      // results are told apart by their ordinal (stored once per sender and CommandIdx).
      list.forEach((body, i) => this.d.onTaskResult({ CommandType: CommandType.TaskResult, CommandIdx: ordinal + i + 1, MessageBody: body }, `cascade-assisted:${upper}:${upperId}`));
      full = page.Next !== undefined;
      if (full) {
        cursor = page.Next!;
        ordinal += list.length;
        this.d.db.prepare('UPDATE cascade_assisted SET cursor = ?, ordinal = ? WHERE task_id = ?').run(cursor, ordinal, taskId);
      }
    }
    this.d.update(taskId);
    if (info.ExecutionStatus === ExecutionStatus.Done || info.ExecutionStatus === ExecutionStatus.Error) {
      this.d.db.prepare('UPDATE cascade_assisted SET done = 1 WHERE task_id = ?').run(taskId);
    }
  }

  /**
   * Splits controls: what names work running above goes up (a whole assisted task, the part of
   * one above under the upper scheduler's TaskID, a mirrored subtask); for a task with a part
   * here, the same control goes to each of its subtasks here (returned in `rest`, with the
   * controls naming nothing assisted). Problems name what failed.
   */
  async control(list: OpsControl[]): Promise<{ rest: OpsControl[]; problems: string[] }> {
    const upper = this.d.upperId();
    const up: OpsControl[] = [];
    const rest: OpsControl[] = [];
    for (const op of list) {
      const row = this.row(op.TaskID);
      const sub = row ? undefined : this.d.store.subtask(op.TaskID);
      if (row) {
        up.push({ ...op, TaskID: row.upper, DeviceID: upper });
        if (row.part) for (const s of this.d.store.subtasks(op.TaskID)) if (s.device_id !== upper) rest.push({ ...op, TaskID: s.subtask_id, DeviceID: s.device_id });
      } else if (sub && sub.device_id === upper && this.has(sub.task_id)) {
        up.push({ ...op, DeviceID: upper });
      } else {
        rest.push(op);
      }
    }
    if (!up.length) return { rest, problems: [] };
    const problems: string[] = [];
    try {
      const r = await this.d.client.command(this.d.upstreamUrl, { CommandType: CommandType.TaskOpsControl, CommandIdx: this.d.client.commandIdx(), DeviceID: upper,
        MessageBody: { OpsControlList: up } });
      if (r.StatusCode !== '0') problems.push(`upper scheduler: ${r.Message ?? 'refused'}`);
    } catch (err) {
      problems.push(`upper scheduler: ${(err as Error).message}`);
    }
    return { rest, problems };
  }
}
