/**
 * The scheduler's replicas this executor was configured with (`--scheduler A,B,…`, issue 14):
 * which one the session uses now, the next one round robin, and whether a URL lies on one of
 * them. Only these URLs carry our session token and only these are re-pointed when a replica
 * stops answering; a URL that came in a request and is none of them is never rewritten.
 */
const origin = (u: string): string | null => { try { return new URL(u).origin; } catch { return null; } };
const trim = (u: string): string => u.replace(/\/+$/, '');

export class SchedulerReplicas {
  readonly urls: readonly string[];
  private at = 0;

  constructor(urls: string | readonly string[]) {
    const list = (typeof urls === 'string' ? [urls] : urls).map(trim);
    if (!list.length) throw new Error('scheduler: at least one URL');
    this.urls = list;
  }

  /**
   * What every message to "the scheduler" is queued under: the first configured URL. It stays
   * the same across switches and restarts, so a task's results and status stay in one ordered queue.
   */
  get home(): string {
    return this.urls[0]!;
  }

  /** The replica the session uses now. */
  get current(): string {
    return this.urls[this.at]!;
  }

  /** More than one replica: fail-over applies (with one, everything behaves as with a single scheduler). */
  get many(): boolean {
    return this.urls.length > 1;
  }

  /** Moves the session to the next replica (round robin) and returns it. */
  advance(): string {
    this.at = (this.at + 1) % this.urls.length;
    return this.current;
  }

  /** The configured replica `url` lies on (same origin), or undefined. */
  replicaOf(url: string): string | undefined {
    const o = origin(url);
    return o === null ? undefined : this.urls.find((r) => origin(r) === o);
  }

  /** True when `url` is a replica's base URL itself (an OutputURL naming the scheduler). */
  isBase(url: string): boolean {
    const r = this.replicaOf(url);
    return r !== undefined && new URL(r).pathname.replace(/\/+$/, '') === new URL(url).pathname.replace(/\/+$/, '');
  }

  /** The replica after `replica` (round robin). */
  after(replica: string): string {
    const i = this.urls.indexOf(replica);
    return this.urls[(i + 1) % this.urls.length]!;
  }

  /** `url`, which lies on replica `from`, moved to replica `to`: the same path below the replica's base (or on its origin). */
  static rebase(url: string, from: string, to: string): string {
    if (url === from || url.startsWith(`${from}/`)) return to + url.slice(from.length);
    const u = new URL(url);
    return `${new URL(to).origin}${u.pathname}${u.search}`;
  }
}
