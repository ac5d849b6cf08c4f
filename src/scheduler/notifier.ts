/**
 * Pushes task status and results to the initiator's NotifyURL (I2, SD3), in order per URL.
 * Best effort with a few retries: the initiator can always read everything back through
 * `GET /System/TaskInfo` and `GET /System/TaskResult`. The URL came in a request, so the push
 * carries no credential of ours: its client has no token, and each push is signed with the
 * task's own key instead (net/notify-signature.ts).
 */
import { joinUrl, type RetinaClient } from '../net/client.ts';
import { deliveryOutcome } from '../net/delivery.ts';
import { SIGNATURE_HEADER, signNotification } from '../net/notify-signature.ts';
import type { Logger } from '../log.ts';

interface Job { method: 'POST' | 'PATCH'; path: string; body: Record<string, unknown>; key: string }

export class Notifier {
  private readonly queues = new Map<string, Job[]>();
  private readonly busy = new Set<string>();

  /** `client` must carry no token: NotifyURLs are not our peers. */
  constructor(private readonly client: RetinaClient, private readonly log: Logger) {
    if (client.token) throw new Error('the notifier\'s client must not hold a token');
  }

  push(url: string, job: Job): void {
    const q = this.queues.get(url) ?? [];
    if (q.length > 10_000) q.shift(); // a dead initiator must not grow memory without bound
    q.push(job);
    this.queues.set(url, q);
    void this.drain(url);
  }

  private async drain(url: string): Promise<void> {
    if (this.busy.has(url)) return;
    this.busy.add(url);
    try {
      const q = this.queues.get(url)!;
      for (let job = q.at(0); job; job = q.at(0)) {
        let ok = false;
        for (let attempt = 0; attempt < 3 && !ok; attempt++) {
          try {
            // A refusal (4xx) will not change on a retry either: only what may pass with time is tried again.
            const sig = signNotification(job.key, JSON.stringify(job.body), Date.now());
            const o = deliveryOutcome(await this.client.send(job.method, joinUrl(url, job.path), job.body, { [SIGNATURE_HEADER]: sig, authorization: '' }));
            ok = o.ok || !!o.permanent;
          } catch (err) {
            if (attempt === 2) this.log.warn({ url, err: (err as Error).message }, 'NotifyURL unreachable; dropping one notification');
            await new Promise((r) => setTimeout(r, 200 * (attempt + 1)).unref());
          }
        }
        q.shift();
      }
    } finally {
      this.busy.delete(url);
    }
  }

  /** Resolves when every queue is empty (tests, shutdown). */
  async idle(timeoutMs = 5000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end && [...this.queues.values()].some((q) => q.length)) await new Promise((r) => setTimeout(r, 20));
  }
}
