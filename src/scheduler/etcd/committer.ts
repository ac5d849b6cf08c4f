/**
 * Group commit to etcd. Writes reach the mirror at once and come here as units (one store call,
 * or one batch); units are sent in order, one txn in flight at a time, as many per txn as fit in
 * MAX_TXN_OPS operations and MAX_TXN_BYTES (etcd refuses more than 128 operations or a 1.5 MiB
 * request). A burst of writes therefore shares a txn instead of paying a round trip each.
 *
 * Fencing: with a fence set, every txn also compares the leader's election key's create revision.
 * When that compare fails, a newer leader exists: the queue is dropped, every durable() rejects
 * and no later write is sent. Dedup guards compare `version(key) == 0` for insertResult's dedup
 * keys; a guard found taken by another writer drops only its result. Any other failure (etcd
 * unreachable, a timeout) is retried with capped backoff, the same txn, so order is kept.
 */
import type { Etcd3, ICompare, IRequestOp, ITxnResponse } from 'etcd3';
import type { Logger } from '../../log.ts';

/** Operations per txn (etcd's default --max-txn-ops is 128; room is left for compares). */
export const MAX_TXN_OPS = 100;
/** Bytes of keys and values per txn (etcd's default --max-request-bytes is 1.5 MiB). */
export const MAX_TXN_BYTES = 1024 * 1024;

/**
 * A dedup key that must not exist yet. `value` is what this writer puts there (seeing it means an
 * earlier try of the txn committed); on a conflict the keys in `drop` leave the txn and
 * `onConflict` undoes the write in the mirror.
 */
export interface Guard { key: string; value: Buffer; drop: string[]; onConflict: () => void }

/** What one store call (or batch) writes: full keys to values (null deletes), applied atomically when it fits one txn. */
export interface Unit { ops: Map<string, Buffer | null>; guards: Guard[]; after: Array<() => void> }

export interface Fence { key: string; createRevision: string }

interface Waiter { id: number; resolve: () => void; reject: (err: Error) => void }

const sleep = (ms: number, stop: { wake?: () => void }) => new Promise<void>((resolve) => {
  const timer = setTimeout(resolve, ms);
  stop.wake = () => { clearTimeout(timer); resolve(); };
});

const unitBytes = (u: Unit) => { let n = 0; for (const [k, v] of u.ops) n += k.length + (v?.length ?? 0); return n; };

export class Committer {
  /** Txns committed, units committed, retries after errors (for metrics and the group-commit test). */
  readonly stats = { txns: 0, units: 0, retries: 0 };
  /** Revisions of this writer's txns, so a replica can tell its own deletes in the watch. */
  readonly ownRevisions = new Set<number>();
  private readonly queue: Array<{ id: number; unit: Unit }> = [];
  private nextId = 1;
  private done = 0;
  private waiters: Waiter[] = [];
  private fence: Fence | null = null;
  private fencedError: Error | null = null;
  private readonly fencedListeners: Array<(err: Error) => void> = [];
  private running: Promise<void> | null = null;
  private inFlight: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private readonly nap: { wake?: () => void } = {};

  constructor(private readonly o: { client: Etcd3; log: Logger; extra: () => [string, Buffer] | null }) {}

  get fenced(): Error | null { return this.fencedError; }
  get pending(): number { return this.queue.length; }

  setFence(f: Fence | null): void { this.fence = f; }

  onFenced(fn: (err: Error) => void): void { this.fencedListeners.push(fn); }

  /** Queues a unit (split when it cannot fit one txn); dropped once fenced or stopped. */
  enqueue(unit: Unit): void {
    if (this.fencedError || this.stopped) {
      this.o.log.warn({ writes: unit.ops.size, why: this.fencedError ? 'fenced' : 'closed' }, 'etcd store: write not sent');
      return;
    }
    for (const part of this.split(unit)) this.queue.push({ id: this.nextId++, unit: part });
    this.kick();
  }

  /** Starts the send loop unless it runs; it runs until the queue is empty. */
  private kick(): void {
    if (this.running || this.stopped || this.fencedError || !this.queue.length) return;
    this.running = this.run()
      .catch((err: unknown) => this.o.log.error({ err: (err as Error).message }, 'etcd store: commit loop failed'))
      .finally(() => { this.running = null; this.kick(); }); // a unit queued while the loop was ending
  }

  /** Resolves once every unit queued before the call is committed. */
  durable(): Promise<void> {
    if (this.fencedError) return Promise.reject(this.fencedError);
    const id = this.nextId - 1;
    if (this.done >= id) return Promise.resolve();
    if (this.stopped) return Promise.reject(new Error(`etcd store closed before ${this.queue.length} queued write(s) were committed`));
    return new Promise((resolve, reject) => this.waiters.push({ id, resolve, reject }));
  }

  /** Resolves when no txn is in flight (its revision is then in ownRevisions if it committed). */
  settled(): Promise<void> {
    return this.inFlight.then(() => undefined, () => undefined);
  }

  /** Waits up to `ms` for the queue to commit, then sends nothing more; false when writes were left. */
  async stop(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      this.durable().then(() => true, () => true),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), ms); }),
    ]);
    clearTimeout(timer);
    this.stopped = true;
    this.nap.wake?.();
    await this.running;
    this.failAll(new Error(`etcd store closed before ${this.queue.length} queued write(s) were committed`));
    return drained;
  }

  /** Splits a unit too big for one txn (a deleteTask of many results) into units that fit, in order. */
  private split(unit: Unit): Unit[] {
    if (unit.ops.size <= MAX_TXN_OPS - 1 && unitBytes(unit) <= MAX_TXN_BYTES) return [unit];
    const parts: Unit[] = [];
    let bytes = 0;
    for (const [k, v] of unit.ops) {
      let last = parts[parts.length - 1];
      const size = k.length + (v?.length ?? 0);
      if (!last || last.ops.size >= MAX_TXN_OPS - 1 || bytes + size > MAX_TXN_BYTES) { last = { ops: new Map(), guards: [], after: [] }; parts.push(last); bytes = 0; }
      last.ops.set(k, v);
      bytes += size;
    }
    for (const g of unit.guards) parts.find((p) => p.ops.has(g.key))?.guards.push(g);
    parts[parts.length - 1]!.after.push(...unit.after);
    return parts;
  }

  /** Forgets own revisions up to `rev` (the watch has passed them). */
  forgetUpTo(rev: number): void {
    for (const r of this.ownRevisions) if (r <= rev) this.ownRevisions.delete(r);
  }

  private async run(): Promise<void> {
    await new Promise((r) => setImmediate(r)); // let the writes of this turn of the event loop join the first txn
    while (this.queue.length && !this.stopped && !this.fencedError) await this.send(this.take());
  }

  /** The units of the next txn: in order, while they fit; a unit whose guard key the txn already writes waits for the next. */
  private take(): Array<{ id: number; unit: Unit }> {
    const keys = new Set<string>();
    let bytes = 0;
    let guards = 0;
    let n = 0;
    for (const { unit } of this.queue) {
      const fresh = [...unit.ops.keys()].filter((k) => !keys.has(k));
      const size = unitBytes(unit);
      const clash = unit.guards.some((g) => keys.has(g.key));
      if (n > 0 && (clash || keys.size + fresh.length > MAX_TXN_OPS - 1 || bytes + size > MAX_TXN_BYTES || guards + unit.guards.length > MAX_TXN_OPS - 1)) break;
      for (const k of fresh) keys.add(k);
      bytes += size;
      guards += unit.guards.length;
      n++;
    }
    return this.queue.slice(0, n);
  }

  private async send(batch: Array<{ id: number; unit: Unit }>): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      const guards = batch.flatMap((b) => b.unit.guards);
      const fence = this.fence;
      const ops = new Map<string, Buffer | null>();
      for (const b of batch) for (const [k, v] of b.unit.ops) ops.set(k, v); // a later write of a key wins: etcd refuses a key twice in a txn
      const extra = this.o.extra();
      if (extra) ops.set(extra[0], extra[1]);
      const compare: ICompare[] = [];
      const failure: IRequestOp[] = [];
      if (fence) {
        compare.push({ key: Buffer.from(fence.key), target: 'Create', result: 'Equal', create_revision: fence.createRevision });
        failure.push({ request_range: { key: Buffer.from(fence.key) } });
      }
      for (const g of guards) {
        compare.push({ key: Buffer.from(g.key), target: 'Version', result: 'Equal', version: 0 });
        failure.push({ request_range: { key: Buffer.from(g.key) } });
      }
      const success: IRequestOp[] = [...ops].map(([k, v]) => (v === null ? { request_delete_range: { key: Buffer.from(k) } } : { request_put: { key: Buffer.from(k), value: v } }));
      let res: ITxnResponse;
      try {
        const call = this.o.client.kv.txn({ compare, success, failure });
        this.inFlight = call;
        res = await call;
      } catch (err) {
        this.stats.retries++;
        const ms = Math.min(5000, 100 * 2 ** Math.min(attempt, 6));
        this.o.log.warn({ err: (err as Error).message, attempt, retryInMs: ms }, 'etcd store: commit failed; retrying');
        await sleep(ms, this.nap);
        continue;
      }
      if (res.succeeded) return this.committed(batch, Number(res.header.revision));
      let at = 0;
      if (fence) {
        const kv = res.responses[at++]?.response_range.kvs[0];
        if (kv?.create_revision !== fence.createRevision) return this.fenceBroken(fence, kv?.create_revision);
      }
      const found = guards.map((g, i) => ({ g, kv: res.responses[at + i]?.response_range.kvs[0] }));
      // Our own value there means an earlier attempt did commit (its reply was lost): the txn is done.
      if (found.some(({ g, kv }) => kv?.value.equals(g.value))) return this.committed(batch, null);
      const taken = found.filter(({ kv }) => kv !== undefined);
      if (!taken.length) { // nothing explains the failed compare: try again later rather than spin
        this.stats.retries++;
        await sleep(Math.min(5000, 100 * 2 ** Math.min(attempt, 6)), this.nap);
        continue;
      }
      for (const { g } of taken) {
        this.o.log.warn({ key: g.key }, 'etcd store: another writer stored this dedup key first; the result is dropped');
        for (const b of batch) {
          const i = b.unit.guards.indexOf(g);
          if (i >= 0) { b.unit.guards.splice(i, 1); for (const k of g.drop) b.unit.ops.delete(k); }
        }
        g.onConflict();
      }
    }
  }

  private committed(batch: Array<{ id: number; unit: Unit }>, revision: number | null): void {
    this.queue.splice(0, batch.length);
    this.stats.txns++;
    this.stats.units += batch.length;
    if (revision !== null) this.ownRevisions.add(revision);
    this.done = batch[batch.length - 1]!.id;
    for (const b of batch) for (const fn of b.unit.after) {
      try { fn(); } catch (err) { this.o.log.warn({ err: (err as Error).message }, 'etcd store: after-commit step failed'); }
    }
    const ready = this.waiters.filter((w) => w.id <= this.done);
    this.waiters = this.waiters.filter((w) => w.id > this.done);
    for (const w of ready) w.resolve();
  }

  private fenceBroken(fence: Fence, now: string | undefined): void {
    const err = new Error(`etcd store: leadership was lost (election key ${fence.key} has create revision ${now ?? 'none: it is gone'}, not ${fence.createRevision}); ${this.queue.length} queued write(s) and any later ones were not stored`);
    this.fencedError = err;
    this.o.log.error({ key: fence.key }, err.message);
    this.failAll(err);
    this.queue.length = 0;
    for (const fn of this.fencedListeners) {
      try { fn(err); } catch (e) { this.o.log.warn({ err: (e as Error).message }, 'etcd store: onFenced listener failed'); }
    }
  }

  private failAll(err: Error): void {
    const all = this.waiters;
    this.waiters = [];
    for (const w of all) w.reject(err);
  }
}
