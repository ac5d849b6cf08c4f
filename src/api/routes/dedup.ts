/**
 * PROTOCOL.md: "a receiver that sees the same sender and CommandIdx again answers with its first
 * reply and does not run the command twice". Replies (or the promise of one, for a command still
 * running) are kept per (sender, CommandIdx) in a bounded LRU.
 */
export class CommandDedup<R> {
  private readonly entries = new Map<string, { at: number; reply: Promise<R> }>();
  /**
   * `keep` says which replies are remembered: a failed one is not (issue 10: a refusal or a
   * crash must not be replayed to a retry that would now succeed, nor be pinned by a forger).
   */
  constructor(private readonly keep: (r: R) => boolean = () => true, private readonly max = 20_000, private readonly ttlMs = 15 * 60_000) {}

  /** Runs `fn` once per key; later calls with the same key get the first call's reply. */
  run(key: string | null, fn: () => Promise<R>): Promise<R> {
    if (key === null) return fn();
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.reply;
    const reply = fn();
    const entry = { at: now, reply };
    this.entries.set(key, entry);
    // A failure is forgotten once known (a rejection too), so the same command may run again.
    const forget = () => { if (this.entries.get(key) === entry) this.entries.delete(key); };
    reply.then((r) => { if (!this.keep(r)) forget(); }, forget);
    if (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    return reply;
  }

  get size(): number {
    return this.entries.size;
  }
}
