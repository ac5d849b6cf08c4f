/**
 * B.3 step 4, assisted scheduling: a task this (lower) scheduler accepted but handed to its
 * upper scheduler to place, because no executor here could take it. The initiator still deals
 * with this scheduler only: the task is kept here under the TaskID the upper one gave it, with
 * the upper one's subtasks mirrored (their executor is the upper scheduler), and its status and
 * results are fetched from above (TaskInfo, TaskResult pages, with the node token: the upstream
 * URL is a configured peer) and stored and pushed to the initiator's NotifyURL as for any task.
 * Controls of such a task are forwarded upwards.
 */
import type Database from 'better-sqlite3';
import { joinUrl, type RetinaClient } from '../../net/client.ts';
import { CommandType, ExecutionStatus, type OpsControl, type TaskInfo, type TaskResult, type TaskResultBody, type TaskResultPage } from '../../protocol/index.ts';
import type { Logger } from '../../log.ts';
import type { SchedulerStateStore } from '../store.ts';

const SCHEMA = `CREATE TABLE IF NOT EXISTS cascade_assisted (
  task_id TEXT PRIMARY KEY,
  cursor TEXT NOT NULL DEFAULT '0',
  ordinal INTEGER NOT NULL DEFAULT 0,
  done INTEGER NOT NULL DEFAULT 0
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
  }

  has(taskId: string): boolean {
    return this.d.db.prepare('SELECT 1 FROM cascade_assisted WHERE task_id = ?').get(taskId) !== undefined;
  }

  add(taskId: string): void {
    this.d.db.prepare('INSERT OR IGNORE INTO cascade_assisted (task_id) VALUES (?)').run(taskId);
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
      const rows = this.d.db.prepare('SELECT task_id, cursor, ordinal FROM cascade_assisted WHERE done = 0').all() as Array<{ task_id: string; cursor: string; ordinal: number }>;
      for (const r of rows) {
        try { await this.follow(r.task_id, r.cursor, r.ordinal); } catch (err) { this.d.log.debug({ task: r.task_id, err: (err as Error).message }, 'assisted task: upper scheduler not reachable'); }
      }
    } finally {
      this.polling = false;
    }
  }

  /** Mirrors the task's subtasks, then stores the results after the cursor; done once it ended above and all are here. */
  private async follow(taskId: string, cursor: string, ordinal: number): Promise<void> {
    const ti = await this.d.client.send('GET', joinUrl(this.d.upstreamUrl, `/System/TaskInfo/${encodeURIComponent(taskId)}`));
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
        if (cur && (cur.status !== st.ExecutionStatus || cur.progress !== (st.Progress ?? 0))) {
          this.d.store.setSubtaskStatus(id, { status: st.ExecutionStatus, progress: st.Progress, exceptionCode: st.ExceptionCode ?? null, exceptionDesc: st.ExceptionDesc ?? null });
        }
      }
    });
    // Results before the status: an initiator told "done" has had every result.
    let full = true;
    while (full) {
      const r = await this.d.client.send('GET', joinUrl(this.d.upstreamUrl, `/System/TaskResult/${encodeURIComponent(taskId)}?after=${encodeURIComponent(cursor)}&limit=${PAGE}`));
      const page = r.body as TaskResultPage | undefined;
      if (r.status !== 200 || !page) throw new Error(`TaskResult: HTTP ${r.status}`);
      const list: TaskResultBody[] = page.TaskResultList;
      // A page that is not full has no cursor after it: it is read again next time, and its
      // results are told apart by their ordinal (stored once per sender and CommandIdx).
      list.forEach((body, i) => this.d.onTaskResult({ CommandType: CommandType.TaskResult, CommandIdx: ordinal + i + 1, MessageBody: body }, `cascade-assisted:${upper}:${taskId}`));
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

  /** Forwards the controls naming assisted tasks upwards; returns the others, and the problems. */
  async control(list: OpsControl[]): Promise<{ rest: OpsControl[]; problems: string[] }> {
    const mine = list.filter((op) => this.has(op.TaskID));
    if (!mine.length) return { rest: list, problems: [] };
    const problems: string[] = [];
    try {
      const r = await this.d.client.command(this.d.upstreamUrl, { CommandType: CommandType.TaskOpsControl, CommandIdx: this.d.client.commandIdx(), DeviceID: this.d.upperId(),
        MessageBody: { OpsControlList: mine.map((op) => ({ ...op, DeviceID: this.d.upperId() })) } });
      if (r.StatusCode !== '0') problems.push(`upper scheduler: ${r.Message ?? 'refused'}`);
    } catch (err) {
      problems.push(`upper scheduler: ${(err as Error).message}`);
    }
    return { rest: list.filter((op) => !mine.includes(op)), problems };
  }
}
