/**
 * The persistent outbox (ED3, ED4): every result is written to SQLite before it is sent, sent in
 * order per destination, retried with capped exponential backoff while a peer is unreachable,
 * and deleted only when the peer acknowledged it. A restarted executor resends what was left.
 */
import type Database from 'better-sqlite3';
import type { Logger } from '../log.ts';
import { resumePointMs, type TaskResultBody } from '../protocol/index.ts';

import type { DeliveryOutcome } from '../net/delivery.ts';
import { queuedMessage, serialise, type OutboxMessage, type OutboxSender } from './outbox-message.ts';

export { queuedMessage, type OutboxMessage, type OutboxSender, type QueuedMessage } from './outbox-message.ts';

interface Row {
  id: number;
  dest_url: string;
  task_id: string;
  body: string;
  attempts: number;
  next_at: number;
}

const MAX_BACKOFF_MS = 30_000;
/** Acknowledged results kept per task for a replay to a moved next stage, and for how long. */
const RETAIN_PER_TASK = 2000;
const RETAIN_MS = 10 * 60_000;

export class Outbox {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  /** Set when work arrives while a pump runs, so the pump goes round once more. */
  private again = false;
  private closed = false;
  private waiters: Array<() => void> = [];
  private retained = 0;
  /**
   * Messages not yet acknowledged, per task and in all: kept in memory (a COUNT at open, then
   * every insert and delete), so a runner reads its back-pressure without a query per frame.
   */
  private readonly counts = new Map<string, number>();
  private total = 0;
  /** Runners waiting for their task's backlog to drain (see `drained`). */
  private readonly drainWaiters = new Map<string, Set<{ atMost: number; resolve: () => void }>>();

  /**
   * `retain(destUrl, taskId)`: keep the task's results delivered to that destination (a next stage on another
   * executor) after it acknowledged them, so they can be sent again if that stage dies and
   * moves (see `replay`). The last RETAIN_PER_TASK per task are kept, for RETAIN_MS at most.
   */
  constructor(private readonly db: Database.Database, private readonly send: OutboxSender, private readonly log: Logger, private readonly retain: (destUrl: string, taskId: string) => boolean = () => false) {
    db.exec(`CREATE TABLE IF NOT EXISTS outbox_sent (id INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL, body TEXT NOT NULL, acked_at INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS outbox_sent_task ON outbox_sent(task_id, id);`);
    db.exec(`CREATE TABLE IF NOT EXISTS outbox (
      id INTEGER PRIMARY KEY AUTOINCREMENT, dest_url TEXT NOT NULL, task_id TEXT NOT NULL,
      body TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS outbox_dest ON outbox(dest_url, id);
    CREATE INDEX IF NOT EXISTS outbox_task ON outbox(task_id);
    CREATE TABLE IF NOT EXISTS outbox_dead (id INTEGER PRIMARY KEY, dest_url TEXT, task_id TEXT, body TEXT, reason TEXT, at INTEGER);`);
    // What a previous run left is counted once; from here on the counts follow every change.
    for (const r of db.prepare('SELECT task_id, COUNT(*) AS n FROM outbox GROUP BY task_id').all() as Array<{ task_id: string; n: number }>) this.count(r.task_id, r.n);
  }

  /** Queues `msg` for each destination; returns once it is on disk. */
  enqueue(destUrls: string[], taskId: string, msg: OutboxMessage): void {
    if (!destUrls.length) return;
    const ins = this.db.prepare('INSERT INTO outbox (dest_url, task_id, body, created_at) VALUES (?, ?, ?, ?)');
    const json = serialise(msg);
    const now = Date.now();
    this.db.transaction(() => { for (const d of destUrls) ins.run(d, taskId, json, now); })();
    this.count(taskId, destUrls.length);
    this.kick(0);
  }

  /**
   * Where the task resumes after the last result queued for it (source ms, a frame interval of
   * `frameMs` past it: protocol/resume-point.ts), over what waits and what is kept after delivery;
   * -1 when none says where it was. Read when a restarted executor restores its tasks, before the
   * outbox starts (resume-floor.ts).
   */
  queuedUpToMs(taskId: string, frameMs: number): number {
    let most = -1;
    for (const table of ['outbox', 'outbox_sent']) {
      const row = this.db.prepare(`SELECT json_extract(body, '$.body.MessageBody') AS result FROM ${table}
        WHERE task_id = ? AND json_extract(body, '$.body.CommandType') = 'task_result' ORDER BY id DESC LIMIT 1`).get(taskId) as { result: string } | undefined;
      const at = row ? resumePointMs(JSON.parse(row.result) as TaskResultBody, frameMs) : null;
      if (at !== null) most = Math.max(most, at);
    }
    return most;
  }

  /** Number of messages not yet acknowledged (for one task, or all); read from memory. */
  pending(taskId?: string): number {
    return taskId === undefined ? this.total : (this.counts.get(taskId) ?? 0);
  }

  /**
   * Resolves once at most `atMost` of the task's messages wait (at once if that is so now), woken
   * by the deliveries themselves; also when the outbox closes, or `signal` aborts (the waiter is
   * dropped). A runner over its high water waits on this instead of polling.
   */
  drained(taskId: string, atMost: number, signal?: AbortSignal): Promise<void> {
    if (this.pending(taskId) <= atMost || this.closed || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let set = this.drainWaiters.get(taskId);
      if (!set) this.drainWaiters.set(taskId, (set = new Set()));
      const w = { atMost, resolve: () => { signal?.removeEventListener('abort', w.resolve); set.delete(w); if (!set.size && this.drainWaiters.get(taskId) === set) this.drainWaiters.delete(taskId); resolve(); } };
      set.add(w);
      signal?.addEventListener('abort', w.resolve, { once: true });
    });
  }

  /** Adds `n` (negative: removes) to the task's count, and wakes the waiters it now satisfies. */
  private count(taskId: string, n: number): void {
    if (!n) return;
    const left = Math.max(0, (this.counts.get(taskId) ?? 0) + n);
    if (left) this.counts.set(taskId, left);
    else this.counts.delete(taskId);
    this.total = Math.max(0, this.total + n);
    if (n > 0) return;
    const set = this.drainWaiters.get(taskId);
    if (set) for (const w of [...set]) if (left <= w.atMost) w.resolve();
  }

  /** Deletes a queued row (acknowledged, dead-lettered) in `also`'s transaction; the count follows what was really deleted, once it committed. */
  private remove(row: Row, also?: () => void): void {
    const del = () => this.db.prepare('DELETE FROM outbox WHERE id = ?').run(row.id).changes;
    let n = 0;
    if (also) this.db.transaction(() => { also(); n = del(); })();
    else n = del();
    this.count(row.task_id, -n);
  }

  /** Age in ms of the oldest message not yet acknowledged (0 when none). */
  oldestAgeMs(): number {
    const r = this.db.prepare('SELECT MIN(created_at) AS t FROM outbox').get() as { t: number | null };
    return r.t === null ? 0 : Math.max(0, Date.now() - r.t);
  }

  /** Resolves when the task's messages are all delivered, or after `timeoutMs` (returns what is left). */
  async flush(taskId: string, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending(taskId) > 0 && Date.now() < deadline && !this.closed) {
      this.kick(0);
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 200); });
    }
    return this.pending(taskId);
  }

  /**
   * Re-points a task's queued results (TaskResult commands) from destinations it no longer has to
   * the ones it now has — the next stage moved to another executor. Returns how many moved.
   */
  retarget(taskId: string, from: string[], to: string[]): number {
    const gone = from.filter((d) => !to.includes(d));
    const added = to.filter((d) => !from.includes(d));
    if (!gone.length || !added.length) return 0;
    const marks = gone.map(() => '?').join(', ');
    const rows = this.db.prepare(`SELECT id, body, created_at FROM outbox WHERE task_id = ? AND dest_url IN (${marks})
      AND json_extract(body, '$.body.CommandType') = 'task_result' ORDER BY id`).all(taskId, ...gone) as Array<{ id: number; body: string; created_at: number }>;
    const ins = this.db.prepare('INSERT INTO outbox (dest_url, task_id, body, created_at) VALUES (?, ?, ?, ?)');
    const del = this.db.prepare('DELETE FROM outbox WHERE id = ?');
    // New rows (new ids) keep the order among themselves; the old ones go, in one transaction.
    let delta = 0;
    this.db.transaction(() => {
      for (const r of rows) {
        for (const d of added) delta += ins.run(d, taskId, r.body, r.created_at).changes;
        delta -= del.run(r.id).changes;
      }
    })();
    this.count(taskId, delta);
    if (rows.length) this.log.info({ task: taskId, from: gone, to: added, messages: rows.length }, 'outbox: queued results re-pointed');
    this.kick(0);
    return rows.length;
  }

  /**
   * Sends a task's retained, already acknowledged results again — those of frames at or after
   * `fromPtsMs` — to `destUrls`: the stage that had them died before it passed them on.
   * Returns how many were queued.
   */
  replay(taskId: string, destUrls: string[], fromPtsMs: number): number {
    const rows = this.db.prepare(`SELECT body, MIN(id) AS first FROM outbox_sent WHERE task_id = ?
      AND json_extract(body, '$.body.MessageBody.TaskResultData.AnalysisResult[0].ResultData.Pts') >= ? GROUP BY body ORDER BY first`).all(taskId, fromPtsMs) as Array<{ body: string }>;
    const ins = this.db.prepare('INSERT INTO outbox (dest_url, task_id, body, created_at) VALUES (?, ?, ?, ?)');
    const now = Date.now();
    this.db.transaction(() => { for (const r of rows) for (const d of destUrls) ins.run(d, taskId, r.body, now); })();
    this.count(taskId, rows.length * destUrls.length);
    if (rows.length) this.log.info({ task: taskId, to: destUrls, fromPtsMs, messages: rows.length }, 'outbox: delivered results sent again to a moved stage');
    this.kick(0);
    return rows.length;
  }

  /** Starts delivering (also what a restart left behind). */
  start(): void {
    this.kick(0);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    // Nobody waits on a closed outbox: its runners are stopping too.
    for (const set of [...this.drainWaiters.values()]) for (const w of [...set]) w.resolve();
  }

  private kick(delay: number): void {
    if (this.closed) return;
    if (this.running) { if (delay === 0) this.again = true; return; }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.pump(), delay);
    this.timer.unref();
  }

  private async pump(): Promise<void> {
    if (this.running || this.closed) return;
    this.running = true;
    this.again = false;
    let nextDelay = -1;
    try {
      const dests = this.db.prepare('SELECT dest_url, MIN(id) AS id FROM outbox GROUP BY dest_url').all() as Array<{ dest_url: string; id: number }>;
      await Promise.all(dests.map(async ({ dest_url }) => {
        // In order per destination: stop at the first message that is not due or fails.
        for (;;) {
          if (this.closed) return;
          const row = this.db.prepare('SELECT * FROM outbox WHERE dest_url = ? ORDER BY id LIMIT 1').get(dest_url) as Row | undefined;
          if (!row) return;
          const wait = row.next_at - Date.now();
          if (wait > 0) { nextDelay = nextDelay < 0 ? wait : Math.min(nextDelay, wait); return; }
          let res: DeliveryOutcome;
          const msg = queuedMessage(row.body);
          try {
            res = await this.send(row.dest_url, row.id, msg);
          } catch (err) {
            res = { ok: false, message: (err as Error).message };
          }
          if (res.ok) {
            // retain() first: the body is parsed only for a destination whose results are kept.
            if (this.retain(row.dest_url, row.task_id) && msg.body.CommandType === 'task_result') {
              this.remove(row, () => {
                this.db.prepare('INSERT INTO outbox_sent (task_id, body, acked_at) VALUES (?, ?, ?)').run(row.task_id, row.body, Date.now());
                // Keep the task's newest RETAIN_PER_TASK (ids are shared with other tasks: count, not subtract).
                this.db.prepare('DELETE FROM outbox_sent WHERE task_id = ? AND id < (SELECT id FROM outbox_sent WHERE task_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)')
                  .run(row.task_id, row.task_id, RETAIN_PER_TASK - 1);
                if (++this.retained % 100 === 0) this.db.prepare('DELETE FROM outbox_sent WHERE acked_at < ?').run(Date.now() - RETAIN_MS);
              });
            } else {
              this.remove(row);
            }
            continue;
          }
          const attempts = row.attempts + 1;
          // A message the peer refuses for what it is (malformed, unknown task) will never go
          // through; keeping it would block everything queued behind it for that peer.
          if (res.permanent) {
            this.log.error({ dest: row.dest_url, id: row.id, reason: res.message }, 'outbox: peer refused a message; moved to outbox_dead');
            this.remove(row, () => {
              this.db.prepare('INSERT INTO outbox_dead (id, dest_url, task_id, body, reason, at) VALUES (?, ?, ?, ?, ?, ?)').run(row.id, row.dest_url, row.task_id, row.body, res.message ?? '', Date.now());
            });
            continue;
          }
          // The sender may say when (0: the next attempt goes to another scheduler replica).
          const backoff = res.retryInMs ?? Math.min(MAX_BACKOFF_MS, 250 * 2 ** Math.min(attempts, 10));
          this.db.prepare('UPDATE outbox SET attempts = ?, next_at = ? WHERE id = ?').run(attempts, Date.now() + backoff, row.id);
          if (attempts === 1 || attempts % 10 === 0) this.log.warn({ dest: row.dest_url, attempts, reason: res.message }, 'outbox: delivery failed, will retry');
          nextDelay = nextDelay < 0 ? backoff : Math.min(nextDelay, backoff);
          return;
        }
      }));
    } catch (err) {
      this.log.error({ err }, 'outbox pump failed');
      nextDelay = 1000;
    } finally {
      this.running = false;
      const w = this.waiters;
      this.waiters = [];
      for (const r of w) r();
    }
    if (this.again) this.kick(0);
    else if (nextDelay >= 0) this.kick(nextDelay);
  }
}
