/**
 * The scheduler's state on etcd (issue 14), for several scheduler replicas sharing one etcd:
 * only the leader writes, and its writes are fenced by its election key; every replica reads.
 *
 * Each replica holds the whole prefix in memory (a Mirror), loaded at open and kept current by a
 * watch, so every read of SchedulerStateStore stays synchronous, as with SQLite. Writes change the
 * mirror at once and are committed in the background (committer.ts); `durable()` says when they
 * are in etcd. A replica applies what other writers change and reports it through `onChange`, so
 * its in-memory rooms can refresh; echoes of its own writes are skipped (puts by the writer id in
 * the value, deletes by the revisions of its own txns).
 */
import { randomUUID } from 'node:crypto';
import { Etcd3, type IEvent } from 'etcd3';
import type { Logger } from '../../log.ts';
import type { SchedulerStateStore } from '../store-types.ts';
import { Committer, type Fence } from './committer.ts';
import { META_KEY } from './keys.ts';
import type { Change, Mirror } from './mirror.ts';
import { loadMirror, parseEnvelope, PrefixWatch } from './replica.ts';
import { FsResultFiles, unsafeWriterId, type ResultFiles } from './result-files.ts';
import { MirrorWrites } from './writes.ts';

export interface EtcdStoreOptions {
  /** etcd client URLs, e.g. ['http://10.0.0.1:2379']. */
  endpoints: string[];
  /** Every key of this store lies under it (default '/retinad/'). */
  prefix?: string;
  /** Where result bodies are kept (shared by the replicas that serve results). */
  resultsDir: string;
  log: Logger;
  /** Names this process's writes, unique per process: 1–64 of A-Z a-z 0-9 . _ - (default: a random UUID). */
  writerId?: string;
  /** Where result bodies go instead of files under resultsDir (an object store, later). */
  files?: ResultFiles;
  /** How long close() waits for queued writes to commit (default 5000 ms). */
  closeTimeoutMs?: number;
  /** How long one etcd call may take before it fails and is retried (default 10000 ms). */
  callTimeoutMs?: number;
}

export class EtcdStore extends MirrorWrites implements SchedulerStateStore {
  private applied: number;
  private readonly listeners = new Set<(c: Change) => void>();
  private watch: PrefixWatch | null = null;
  private resyncing: Promise<void> | null = null;
  private closing: Promise<void> | null = null;

  private constructor(private readonly client: Etcd3, private readonly o: EtcdStoreOptions, prefix: string, writerId: string, mirror: Mirror, revision: number, committer: Committer) {
    super(mirror, o.files ?? new FsResultFiles(o.resultsDir), o.log, committer, prefix, writerId);
    this.applied = revision;
  }

  /** Connects, loads every key under the prefix into memory and watches it from there. */
  static async open(o: EtcdStoreOptions): Promise<EtcdStore> {
    const prefix = o.prefix ?? '/retinad/';
    // Without the closing slash, '/retinad' would also range over '/retinad2/…', another store's keys.
    if (!prefix.endsWith('/') || prefix.length < 2) throw new Error(`etcd store: prefix ${JSON.stringify(prefix)} must end with / and name something before it ('/retinad/')`);
    const writerId = o.writerId ?? randomUUID();
    const badWriter = unsafeWriterId(writerId);
    if (badWriter) throw new Error(`etcd store: ${badWriter}`);
    // Range pages and watch replies of large rows can pass gRPC's default 4 MiB receive limit.
    const callMs = o.callTimeoutMs ?? 10_000;
    const client = new Etcd3({
      hosts: o.endpoints,
      grpcOptions: { 'grpc.max_receive_message_length': 64 * 1024 * 1024 },
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callMs }),
    });
    try {
      const { mirror, revision } = await loadMirror(client.kv, prefix, o.log);
      const committer = new Committer({
        client, log: o.log,
        // Every txn carries the counters, so a seq or ordinal is never handed out twice, even after deletes.
        extra: () => [prefix + META_KEY, Buffer.from(JSON.stringify({ w: writerId, v: mirror.counters }))],
      });
      const store = new EtcdStore(client, o, prefix, writerId, mirror, revision, committer);
      await store.startWatch();
      o.log.info({ prefix, revision, devices: mirror.devices.size, tasks: mirror.tasks.size }, 'etcd store: loaded');
      return store;
    } catch (err) {
      client.close();
      throw err;
    }
  }

  /** The etcd revision this replica's mirror has applied (loaded or watched). */
  get revision(): number { return this.applied; }

  /** Txns committed, units committed, retries, and writes still queued (for metrics). */
  get stats(): { txns: number; units: number; retries: number; pending: number } {
    return { ...this.committer.stats, pending: this.committer.pending };
  }

  /** Calls `fn` for every change another writer made (a follower's rooms refresh with it); returns the unsubscribe. */
  onChange(fn: (c: Change) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Fences later txns on the leader's election key: each commits only while `key` still has
   * `createRevision` (null: no fence). When it does not, see onFenced.
   */
  setFence(f: Fence | null): void {
    this.committer.setFence(f);
  }

  /** Calls `fn` once leadership was found lost: queued and later writes are not stored, durable() rejects. */
  onFenced(fn: (err: Error) => void): void {
    this.committer.onFenced(fn);
  }

  /** The error that fenced this store, or null. */
  get fenced(): Error | null { return this.committer.fenced; }

  durable(): Promise<void> {
    return this.committer.durable();
  }

  /** Stops the watch, waits (bounded) for queued writes to commit, closes the client. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.resyncing;
      await this.watch?.stop();
      const ms = this.o.closeTimeoutMs ?? 5000;
      if (!(await this.committer.stop(ms))) this.log.warn({ pending: this.committer.pending, ms }, 'etcd store: closed with writes not committed');
      this.client.close();
    })();
    return this.closing;
  }

  private async startWatch(): Promise<void> {
    this.watch = await PrefixWatch.start(this.client, this.prefix, this.applied, this.log, (evs) => this.onEvents(evs), (why) => {
      this.log.warn({ why }, 'etcd store: watch lost its place; reloading');
      void this.reload(); // never rejects: it retries until it succeeds or the store closes
    });
  }

  /** Applies another writer's changes; skips echoes of this writer's and events already applied. */
  private async onEvents(events: IEvent[]): Promise<void> {
    const before = this.applied;
    let top = before;
    // A delete carries no writer id: it is ours when its revision is one of our txns'. A txn of
    // ours at or below these revisions was sent before etcd sent them, so once the one in flight
    // now has answered, its revision is known.
    if (events.some((ev) => ev.type === 'Delete')) await this.committer.settled();
    for (const ev of events) {
      const rev = Number(ev.kv.mod_revision);
      if (rev <= before) continue; // replayed after a reconnect
      top = Math.max(top, rev);
      const key = ev.kv.key.subarray(Buffer.byteLength(this.prefix)).toString();
      let change: Change | null;
      if (ev.type === 'Delete') {
        if (this.committer.ownRevisions.has(rev)) continue;
        change = this.mirror.apply(key, null);
      } else {
        const env = parseEnvelope(ev.kv, this.log);
        if (!env || env.w === this.writerId) continue;
        change = this.mirror.apply(key, env.v);
      }
      if (change) this.emit(change);
    }
    this.applied = top;
    this.committer.forgetUpTo(top);
  }

  private emit(c: Change): void {
    for (const fn of this.listeners) {
      try { fn(c); } catch (err) { this.log.warn({ err: (err as Error).message }, 'etcd store: onChange listener failed'); }
    }
  }

  /**
   * Reads the whole prefix again, applies the difference to the mirror (onChange names each
   * change) and watches from there. The watch does this when etcd compacted away the revision it
   * had to resume from; an operator may too.
   */
  reload(): Promise<void> {
    this.resyncing ??= this.resync().finally(() => { this.resyncing = null; });
    return this.resyncing;
  }

  private async resync(): Promise<void> {
    await this.watch?.stop();
    this.watch = null;
    for (let attempt = 0; !this.closing; attempt++) {
      try {
        await this.committer.durable().catch(() => undefined); // our own writes in first, so the reload holds them
        const { mirror: fresh, revision } = await loadMirror(this.client.kv, this.prefix, this.log);
        const seen = new Set<string>();
        for (const [key, value] of fresh.entries()) {
          seen.add(key);
          const old = this.mirror.get(key);
          if (old === undefined || JSON.stringify(old) !== JSON.stringify(value)) { const c = this.mirror.apply(key, value); if (c) this.emit(c); }
        }
        for (const [key] of [...this.mirror.entries()]) {
          if (!seen.has(key)) { const c = this.mirror.apply(key, null); if (c) this.emit(c); }
        }
        this.mirror.apply(META_KEY, fresh.counters);
        this.applied = revision;
        await this.startWatch();
        return;
      } catch (err) {
        this.log.warn({ err: (err as Error).message, attempt }, 'etcd store: reload failed; trying again');
        await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** Math.min(attempt, 5))));
      }
    }
  }
}
