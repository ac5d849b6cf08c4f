/**
 * Dynamic batching across streams (Triton's idea): frames of different tasks that run the same
 * plugin version are gathered for at most `maxDelayMs`, or until `maxBatch` are waiting, and
 * sent as one batch — one inference over all of them. Plugins without models, temporal plugins
 * (previous frame) and crop stages are not batched.
 */
import type { CallInput, CallResult, PluginPool } from './pool.ts';
import { PluginCallError } from './pool.ts';
import type { LoadedPlugin } from './registry.ts';

export interface BatcherOptions {
  /** Most frames in one batch; 1 disables batching. */
  maxBatch?: number;
  /** Longest a frame waits for company, ms. */
  maxDelayMs?: number;
}

interface Waiting { c: CallInput; resolve: (r: CallResult) => void; reject: (e: Error) => void }

export class Batcher {
  private readonly queues = new Map<string, { p: LoadedPlugin; items: Waiting[]; timer: NodeJS.Timeout | null }>();
  readonly maxBatch: number;
  readonly maxDelayMs: number;

  constructor(private readonly pool: PluginPool, o: BatcherOptions = {}) {
    this.maxBatch = Math.max(1, o.maxBatch ?? 4);
    this.maxDelayMs = Math.max(0, o.maxDelayMs ?? 5);
  }

  /** Same contract as PluginPool.call. */
  call(p: LoadedPlugin, c: CallInput): Promise<CallResult> {
    const batchable = this.maxBatch > 1 && (c.stage ?? 'frame') === 'frame' && !p.manifest.input.previousFrame && p.models.some((m) => m.stage === 'frame');
    if (!batchable) return this.pool.call(p, c);
    const key = `${p.manifest.AlgID}@${p.manifest.AlgVersion}`;
    return new Promise<CallResult>((resolve, reject) => {
      let q = this.queues.get(key);
      if (!q) {
        q = { p, items: [], timer: null };
        this.queues.set(key, q);
      }
      q.items.push({ c, resolve, reject });
      if (q.items.length >= this.maxBatch) this.flush(key);
      else if (!q.timer) q.timer = setTimeout(() => this.flush(key), this.maxDelayMs);
    });
  }

  private flush(key: string): void {
    const q = this.queues.get(key);
    if (!q) return;
    if (q.timer) clearTimeout(q.timer);
    q.timer = null;
    const items = q.items.splice(0, this.maxBatch);
    if (q.items.length) q.timer = setTimeout(() => this.flush(key), this.maxDelayMs);
    if (!items.length) return;
    const [only] = items;
    if (items.length === 1 && only) {
      this.pool.call(q.p, only.c).then(only.resolve, only.reject);
      return;
    }
    void this.pool.callBatch(q.p, items.map((i) => i.c)).then((rs) => rs.forEach((r, i) => (r instanceof PluginCallError ? items[i]?.reject(r) : items[i]?.resolve(r))));
  }
}
