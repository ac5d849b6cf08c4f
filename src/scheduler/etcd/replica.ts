/**
 * How a mirror is filled from etcd and kept current: a paged range read of the whole prefix at
 * one revision (a consistent snapshot however many pages: 10,000 devices do not fit one reply),
 * then a watch of the prefix from the next revision.
 *
 * The watch resumes by itself after a lost connection. etcd3 resumes from the header revision of
 * the last reply, which can lie past events still to come while a watch catches up; this watch
 * resumes from the last event it was given instead (events it already has are skipped by the
 * store, by revision). When etcd has compacted that revision away the watch is cancelled and
 * `lost` is called: the store then reloads.
 */
import type { Etcd3, IEvent, IKeyValue, KVClient, Watcher } from 'etcd3';
import type { Logger } from '../../log.ts';
import type { Envelope } from './keys.ts';
import { prefixEnd } from './keys.ts';
import { Mirror } from './mirror.ts';

/** Keys per range page: small enough for gRPC's message limit with large device rows. */
export const PAGE_KEYS = 256;

/** The envelope in an etcd value, or null (logged) when it is not one of ours. */
export function parseEnvelope(kv: IKeyValue, log: Logger): Envelope | null {
  try {
    const env = JSON.parse(kv.value.toString()) as Partial<Envelope> | null;
    if (env && typeof env === 'object' && typeof env.w === 'string' && env.v !== null && typeof env.v === 'object') return env as Envelope;
  } catch { /* logged below */ }
  log.warn({ key: kv.key.toString() }, 'etcd store: a value under the prefix is not a store value; skipped');
  return null;
}

/** Loads every key under `prefix` into a new mirror; returns it with the revision it shows. */
export async function loadMirror(kv: KVClient, prefix: string, log: Logger, pageKeys = PAGE_KEYS): Promise<{ mirror: Mirror; revision: number }> {
  const start = Buffer.from(prefix);
  const end = prefixEnd(start);
  for (let attempt = 0; ; attempt++) {
    const mirror = new Mirror();
    let key = start;
    let revision: string | undefined;
    try {
      for (;;) {
        const res = await kv.range({ key, range_end: end, limit: pageKeys, revision });
        revision ??= res.header.revision;
        for (const item of res.kvs) {
          const env = parseEnvelope(item, log);
          if (env) mirror.apply(item.key.subarray(start.length).toString(), env.v);
        }
        const last = res.kvs[res.kvs.length - 1];
        if (!res.more || !last) break;
        key = Buffer.concat([last.key, Buffer.from([0])]); // the next key after the last one read
      }
      return { mirror, revision: Number(revision) };
    } catch (err) {
      // Pages read at one revision fail when a compaction passes it mid-load: start again, newer.
      if (attempt >= 3 || !/compacted/.test((err as Error).message)) throw err;
      log.warn({ attempt }, 'etcd store: revision compacted during the load; loading again');
    }
  }
}

/** A watch of the prefix that hands each reply's events, in order, to `handle`. */
export class PrefixWatch {
  private chain: Promise<void> = Promise.resolve();
  private last: number;
  /** etcd cancelled the watch (and etcd3 dropped it): there is nothing left to cancel. */
  private dead = false;

  private constructor(private readonly watcher: Watcher, from: number, private readonly log: Logger) {
    this.last = from;
  }

  /** Watches `prefix` from `from` + 1; `lost` is called when the watch was cancelled (compaction). */
  static async start(client: Etcd3, prefix: string, from: number, log: Logger, handle: (events: IEvent[]) => Promise<void>, lost: (why: string) => void): Promise<PrefixWatch> {
    const watcher = await client.watch().prefix(prefix).startRevision(String(from + 1)).create();
    const w = new PrefixWatch(watcher, from, log);
    watcher.on('data', (res) => {
      const last = res.events[res.events.length - 1];
      if (!last) return;
      w.last = Math.max(w.last, Number(last.kv.mod_revision));
      watcher.request.start_revision = String(w.last + 1);
      w.chain = w.chain.then(() => handle(res.events)).catch((err: unknown) => log.error({ err: (err as Error).message }, 'etcd store: applying watch events failed'));
    });
    // Runs after etcd3's own handler, which set the resume point to the reply's header revision.
    watcher.on('connected', () => { watcher.request.start_revision = String(w.last + 1); });
    watcher.on('disconnected', (err) => log.warn({ err: err.message }, 'etcd store: watch disconnected; it resumes by itself'));
    watcher.on('error', (err) => { w.dead = true; lost(err.message); });
    return w;
  }

  /** Cancels the watch and waits for the events already given to be applied. */
  async stop(): Promise<void> {
    if (!this.dead) {
      // etcd3 waits for the cancel to be confirmed, which a dropped stream may never do: bounded.
      let timer: NodeJS.Timeout | undefined;
      const cancelled = this.watcher.cancel().catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'etcd store: cancelling the watch failed'));
      await Promise.race([cancelled, new Promise<void>((resolve) => { timer = setTimeout(resolve, 2000); })]);
      clearTimeout(timer);
      this.dead = true;
    }
    await this.chain;
  }
}
