/**
 * B.2 step 4: status and results of the work the upper scheduler dispatched here flow back up.
 * The lower scheduler is the upper one's device for that subtask, so it reports as that device
 * would: `PATCH /System/TaskStatus/` with its own DeviceID, and `task_result` commands whose
 * TaskID is the upper subtask's and whose DeviceID is its own (the upper scheduler accepts a
 * device's results only for subtasks placed on it, as itself). Results are read from the store
 * after a persistent cursor, oldest first, one at a time: an upper scheduler that is away gets
 * them all, in order, when it is back. CommandIdx is the result's store sequence, so a resend
 * after a lost reply is de-duplicated above.
 */
import { joinUrl } from '../../net/client.ts';
import { CommandType, type TaskResultBody, type TaskStatus } from '../../protocol/index.ts';
import type { Logger } from '../../log.ts';
import type { SchedulerStateStore } from '../store.ts';
import type { CascadeLinks } from './links.ts';
import type { UpstreamSession } from './upstream.ts';

const BATCH = 64;
/** How often the status of each running task from above is sent again (its Progress; a lost stop retried above). */
const STATUS_EVERY_MS = 3000;

export interface RelayDeps {
  deviceId: string;
  store: SchedulerStateStore;
  links: CascadeLinks;
  upstream: UpstreamSession;
  log: Logger;
  /** Table 31 status of a local task. */
  statusOf(taskId: string): TaskStatus | undefined;
  /** Whether a local task still runs (queued, running, paused). */
  active(taskId: string): boolean;
}

export class UpwardRelay {
  private readonly dirtyStatus = new Set<string>();
  private readonly dirtyResults = new Set<string>();
  private running: Promise<void> | null = null;
  private again = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly beat: NodeJS.Timeout;

  constructor(private readonly d: RelayDeps) {
    // After a restart, whatever was not relayed yet goes now.
    for (const id of d.links.all()) { this.dirtyResults.add(id); this.dirtyStatus.add(id); }
    // Like an executor's periodic reports: Progress moves above, and a report is what makes the
    // upper scheduler stop a copy here of work it moved elsewhere (again, if that failed).
    this.beat = setInterval(() => {
      for (const id of this.d.links.all()) if (this.d.active(id)) this.dirtyStatus.add(id);
      if (this.dirtyStatus.size) this.kick();
    }, STATUS_EVERY_MS);
    this.beat.unref();
  }

  /** The task view's sink: a status change or a stored result of a task (ours to relay when from above). */
  publish(taskId: string, what: 'results' | 'status'): void {
    if (!this.d.links.has(taskId)) return;
    (what === 'results' ? this.dirtyResults : this.dirtyStatus).add(taskId);
    this.kick();
  }

  /** Starts a pass over the dirty tasks (or asks the running one to go round again). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) { this.again = true; return; }
    this.running = this.pass().finally(() => {
      this.running = null;
      if (this.again) { this.again = false; this.kick(); }
    });
  }

  private async pass(): Promise<void> {
    if (!this.d.upstream.registered) { this.later(); return; }
    try {
      // Results first: an upper scheduler told "done" has then had every result.
      for (const id of [...this.dirtyResults]) {
        this.dirtyResults.delete(id);
        await this.sendResults(id);
      }
      for (const id of [...this.dirtyStatus]) {
        this.dirtyStatus.delete(id);
        await this.sendStatus(id);
      }
    } catch (err) {
      this.d.log.warn({ err: (err as Error).message }, 'relay to upper scheduler failed; retrying');
      this.later();
    }
  }

  /** Tries again in a second (the upper scheduler away, or our session being renewed). */
  private later(): void {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = setTimeout(() => { this.retryTimer = null; this.kick(); }, 1000);
    this.retryTimer.unref();
  }

  private async sendResults(taskId: string): Promise<void> {
    for (;;) {
      const cursor = this.d.links.cursor(taskId);
      const rows = this.d.store.results(taskId, cursor, BATCH);
      if (!rows.length) return;
      for (const r of rows) {
        try {
          await this.send(r.seq, { ...r.body, TaskID: taskId, DeviceID: this.d.deviceId });
        } catch (err) {
          this.dirtyResults.add(taskId);
          throw err;
        }
        this.d.links.setCursor(taskId, r.seq);
      }
    }
  }

  private async send(seq: number, body: TaskResultBody): Promise<void> {
    const u = this.d.upstream;
    const r = await u.client.send('POST', joinUrl(u.url, '/System/Command'), { CommandType: CommandType.TaskResult, CommandIdx: seq, DeviceID: u.upperId ?? this.d.deviceId, MessageBody: body });
    if (r.status === 401) { void u.lost(); throw new Error('upper scheduler no longer knows our session'); }
    const b = r.body as { StatusCode?: string; Message?: string } | undefined;
    if (r.status >= 500 || r.status === 503) throw new Error(`task_result: HTTP ${r.status}`);
    // A refusal (the subtask moved elsewhere, a quota) will not change by sending again: skip it.
    if (b?.StatusCode !== '0') this.d.log.warn({ task: body.TaskID, status: r.status, message: b?.Message }, 'upper scheduler refused a relayed result');
  }

  private async sendStatus(taskId: string): Promise<void> {
    const st = this.d.statusOf(taskId);
    if (!st) return;
    const u = this.d.upstream;
    const r = await u.client.send('PATCH', joinUrl(u.url, '/System/TaskStatus/'), { DeviceID: this.d.deviceId, TaskStatusList: [st] }).catch((err: Error) => {
      this.dirtyStatus.add(taskId);
      throw err;
    });
    if (r.status === 401) { this.dirtyStatus.add(taskId); void u.lost(); throw new Error('upper scheduler no longer knows our session'); }
    if (r.status >= 500) { this.dirtyStatus.add(taskId); throw new Error(`TaskStatus: HTTP ${r.status}`); }
  }

  /** Waits (bounded) for a pass in flight, then stops. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.beat);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.running) await Promise.race([this.running, new Promise((r) => setTimeout(r, 2000).unref())]);
  }
}
