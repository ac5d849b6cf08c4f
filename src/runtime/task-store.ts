/**
 * The executor's tasks (EB6): held in memory while it runs and in SQLite across restarts —
 * each task's dispatch (with its current AlgArgs), ExecutionStatus and exception — and the
 * results other executors sent here (ED2). A restart brings tasks back through table 31's state
 * machine, so a stored status the life cycle cannot reach is never restored.
 */
import type Database from 'better-sqlite3';
import { ExceptionCode, ExecutionStatus, type TaskDispatchInfo, type TaskResultBody } from '../protocol/index.ts';
import { ExecTask } from './exec-task.ts';

interface TaskRow {
  task_id: string;
  dispatch: string;
  status: number;
  exception_code: number | null;
  exception_desc: string | null;
}

/** The steps of table 31 from queued (where every task starts) to each stored status. */
const PATH_FROM_QUEUED: Readonly<Record<number, readonly ExecutionStatus[]>> = {
  [ExecutionStatus.Queued]: [],
  [ExecutionStatus.Running]: [ExecutionStatus.Running],
  [ExecutionStatus.Paused]: [ExecutionStatus.Running, ExecutionStatus.Paused],
  [ExecutionStatus.Done]: [ExecutionStatus.Done],
  [ExecutionStatus.Error]: [ExecutionStatus.Error],
};

export class TaskStore {
  private readonly tasks = new Map<string, ExecTask>();
  private seq = 0;
  private closed = false;

  constructor(private readonly db: Database.Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS tasks (task_id TEXT PRIMARY KEY, dispatch TEXT NOT NULL, status INTEGER NOT NULL,
      exception_code INTEGER, exception_desc TEXT, updated_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS received_results (id INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT, sender TEXT, body TEXT, at INTEGER);`);
  }

  get(id: string): ExecTask | undefined {
    return this.tasks.get(id);
  }

  /** Every task, in the order they arrived. */
  all(): IterableIterator<ExecTask> {
    return this.tasks.values();
  }

  /** A new task from a dispatch: queued, held and saved. */
  add(info: TaskDispatchInfo): ExecTask {
    const task = new ExecTask(info, ++this.seq);
    this.tasks.set(task.id, task);
    this.save(task);
    return task;
  }

  /** Writes the task's dispatch (with its current AlgArgs), status and exception. */
  save(t: ExecTask): void {
    if (this.closed) return;
    this.db.prepare(`INSERT INTO tasks (task_id, dispatch, status, exception_code, exception_desc, updated_at) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT(task_id) DO UPDATE SET dispatch = excluded.dispatch, status = excluded.status, exception_code = excluded.exception_code,
      exception_desc = excluded.exception_desc, updated_at = excluded.updated_at`)
      .run(t.id, JSON.stringify({ ...t.info, InputInfo: { ...t.info.InputInfo, AlgArgs: t.algArgs } }), t.status, t.exceptionCode ?? null, t.exceptionDesc ?? null, Date.now());
  }

  /**
   * EB6/EM5: loads the stored tasks. Tasks that were not finished when the executor stopped end
   * as interrupted (ExecutionStatus 4, code 50: the scheduler may retry them); those are returned
   * so the caller saves and reports them.
   */
  restore(): ExecTask[] {
    const interrupted: ExecTask[] = [];
    const rows = this.db.prepare('SELECT * FROM tasks ORDER BY updated_at').all() as TaskRow[];
    for (const r of rows) {
      const task = new ExecTask(JSON.parse(r.dispatch) as TaskDispatchInfo, ++this.seq);
      for (const step of PATH_FROM_QUEUED[r.status] ?? []) task.transition(step);
      if (r.exception_code !== null) task.exceptionCode = r.exception_code;
      if (r.exception_desc) task.exceptionDesc = r.exception_desc;
      if (!task.finished) {
        task.transition(ExecutionStatus.Error, { code: ExceptionCode.RunError, desc: 'interrupted: the executor restarted' });
        interrupted.push(task);
      }
      this.tasks.set(task.id, task);
    }
    return interrupted;
  }

  /** ED2: keeps a result another executor sent here. */
  saveReceived(body: TaskResultBody, sender: string): void {
    this.db.prepare('INSERT INTO received_results (task_id, sender, body, at) VALUES (?, ?, ?, ?)').run(body.TaskID, sender, JSON.stringify(body), Date.now());
  }

  /** The results other executors sent here, oldest first. */
  *received(): Generator<TaskResultBody> {
    for (const r of this.db.prepare('SELECT body FROM received_results ORDER BY id').iterate() as Iterable<{ body: string }>) yield JSON.parse(r.body) as TaskResultBody;
  }

  /** Stops writing (the database is about to close). */
  close(): void {
    this.closed = true;
  }
}
