/**
 * Feeds results to a stage the scheduler relays them to: a conditional stage gets the results
 * that met its condition (M6), a stage at another site those of its upstreams (cascade B.2).
 * One at a time per stage, in arrival order (B6). A relay that does not get through — refused
 * connection, timeout, HTTP 5xx: the stage's executor restarting, a lower scheduler away for a
 * moment — is tried again with backoff, under one CommandIdx so the receiver counts a repeat
 * once, for as long as the stage is active and at most `retryForMs`; a refusal (StatusCode "1")
 * is final. (Tried once, such a result was lost.)
 */
import { CommandType, TaskResultReply, type TaskResultBody } from '../../protocol/index.ts';
import { CommandRefused } from '../../net/errors.ts';
import type { RetinaClient } from '../../net/client.ts';
import type { Logger } from '../../log.ts';
import { ACTIVE_STATUSES, type DeviceRow, type SubtaskRow } from '../store.ts';

export interface StageFeedDeps {
  store: { subtask(id: string): SubtaskRow | undefined };
  devices: { row(id: string): DeviceRow | undefined };
  client: RetinaClient;
  log: Logger;
  /** True once the scheduler is closing: nothing more is retried. */
  closed(): boolean;
  /** How long one result is retried (default 60 s). */
  retryForMs?: number;
  /** The first pause between attempts, doubled each time up to 5 s (default 250 ms). */
  backoffMs?: number;
}

export class StageFeed {
  /** The delivery chain of each stage: a result goes after the ones before it. */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly d: StageFeedDeps) {}

  /** Queues `body` for the stage `subtaskId`. */
  send(subtaskId: string, body: TaskResultBody): void {
    const next = (this.chains.get(subtaskId) ?? Promise.resolve()).then(() => this.deliver(subtaskId, body));
    this.chains.set(subtaskId, next);
    void next.finally(() => { if (this.chains.get(subtaskId) === next) this.chains.delete(subtaskId); });
  }

  /** Resolves once every result queued for the stage so far is delivered or given up. */
  drained(subtaskId: string): Promise<void> {
    return this.chains.get(subtaskId) ?? Promise.resolve();
  }

  private async deliver(subtaskId: string, body: TaskResultBody): Promise<void> {
    const idx = this.d.client.commandIdx();
    const deadline = Date.now() + (this.d.retryForMs ?? 60_000);
    for (let attempt = 0; ; attempt++) {
      // Read again each time: the stage may have moved to another executor, or ended.
      const row = this.d.store.subtask(subtaskId);
      if (!row || !ACTIVE_STATUSES.includes(row.status)) return;
      const dev = this.d.devices.row(row.device_id);
      try {
        if (!dev?.command_url) throw new Error(`device ${row.device_id} has no CommandURL`);
        await this.d.client.sendCommand(dev.command_url, { CommandType: CommandType.TaskResult, DeviceID: dev.device_id, MessageBody: body }, TaskResultReply, idx);
        return;
      } catch (err) {
        const refused = err instanceof CommandRefused && err.status < 500;
        if (refused || this.d.closed() || Date.now() >= deadline) {
          this.d.log.warn({ subtask: subtaskId, from: body.TaskID, attempts: attempt + 1, err: (err as Error).message }, refused ? 'a stage refused a result relayed to it' : 'could not relay a result to a stage it feeds; giving up');
          return;
        }
        await new Promise((r) => setTimeout(r, Math.min(5000, (this.d.backoffMs ?? 250) * 2 ** attempt)));
      }
    }
  }
}
