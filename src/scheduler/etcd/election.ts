/**
 * B3, SB9: which scheduler replica leads, decided by an etcd election on a lease. The leader's
 * campaign key is created once per term, so its create revision only grows from one leader to
 * the next: it is the term's **epoch**, sent to executors (X-Retinad-Epoch) and compared in every
 * store transaction (the fence), so a deposed leader can neither command nor write.
 */
import { EventEmitter } from 'node:events';
import { Election, Etcd3, type Campaign, type Watcher } from 'etcd3';
import type { Logger } from '../../log.ts';

export interface Term {
  /** The campaign key (its create revision is compared in every write). */
  key: string;
  /** The key's create revision, as a decimal string: the epoch of this term. */
  epoch: string;
}

export interface ElectionOptions {
  endpoints: string[];
  /** The election's name: replicas of one scheduler share it. */
  name: string;
  /** What this replica proclaims when it leads: the URL executors and initiators reach it at. */
  value: string;
  /** Lease TTL, seconds: how long a dead leader keeps the lead (default 5). */
  ttlSec?: number;
  log: Logger;
}

/** Emits 'elected' (Term) once this replica leads, and 'lost' (Error) when it led and no longer does. */
export class LeaderElection extends EventEmitter {
  private readonly client: Etcd3;
  private campaign: Campaign | null = null;
  private watcher: Watcher | null = null;
  /** The etcd revision of the observation in force: a slower, older answer does not replace it. */
  private seen = -1n;
  private leaderValue: string | undefined;
  private term: Term | null = null;
  private closed = false;

  constructor(private readonly o: ElectionOptions) {
    super();
    this.client = new Etcd3({ hosts: o.endpoints });
  }

  /** The current leader's URL, as the last observation saw it (undefined during an election). */
  get leader(): string | undefined {
    return this.leaderValue;
  }

  /** This replica's term while it leads. */
  get current(): Term | null {
    return this.term;
  }

  /** Starts observing the leader and campaigning; resolves once observing. */
  async start(): Promise<void> {
    await this.observe();
    this.campaignAgain();
  }

  /**
   * Who leads: the key of the election created first, looked up again whenever a key of the
   * election comes or goes (and when the watch reconnects). Not etcd3's ElectionObserver: when
   * several campaign keys arrive in one watch response it takes the last, so a replica could name
   * a follower as leader until that follower's key went — and pass writes to it.
   */
  private async observe(): Promise<void> {
    const ns = this.client.namespace(`${Election.prefix}/${this.o.name}/`);
    const look = async (): Promise<void> => {
      try {
        const r = await ns.getAll().sort('Create', 'Ascend').limit(1).exec();
        const revision = BigInt(r.header.revision);
        if (revision < this.seen || this.closed) return;
        this.seen = revision;
        const v = r.kvs[0]?.value.toString();
        if (v !== this.leaderValue) { this.leaderValue = v; this.o.log.info({ leader: v }, 'scheduler leader changed'); }
      } catch (err) {
        this.o.log.warn({ err }, 'leader observation failed; looking again when the watch reconnects');
      }
    };
    this.watcher = await ns.watch().prefix('').create();
    this.watcher.on('put', () => void look()).on('delete', () => void look()).on('connected', () => void look())
      .on('error', (err) => this.o.log.warn({ err }, 'leader observation watch failed'));
    await look();
  }

  private campaignAgain(): void {
    const election = this.client.election(this.o.name, this.o.ttlSec ?? 5);
    const c = election.campaign(this.o.value);
    this.campaign = c;
    // Only the current campaign's events count. etcd3's Campaign still says 'elected' after it was
    // resigned (once the key before it goes, its wait ends either way), and a campaign replaced
    // after a lost lease still reports that loss: acted on, either would resign the campaign that
    // replaced it and send this replica to the back of the queue, again and again.
    const current = () => !this.closed && this.campaign === c;
    c.on('error', (err) => {
      if (!current()) return;
      if (this.term) { this.term = null; this.emit('lost', err); return; }
      this.o.log.warn({ err }, 'campaign failed; retrying');
      setTimeout(() => { if (current()) void this.restart(); }, 1000).unref();
    });
    c.on('elected', () => { if (current()) void this.onElected(c); });
  }

  private async onElected(c: Campaign): Promise<void> {
    try {
      const key = await c.getCampaignKey();
      const kv = (await this.client.get(key).exec()).kvs[0];
      if (!kv) throw new Error(`campaign key ${key} vanished as it was elected`);
      if (this.campaign !== c || this.closed) return;
      this.term = { key, epoch: kv.create_revision };
      this.o.log.info({ epoch: this.term.epoch }, 'this replica leads');
      this.emit('elected', this.term);
    } catch (err) {
      if (this.campaign !== c || this.closed) return;
      this.o.log.warn({ err }, 'elected, but the term could not be read; campaigning again');
      void this.restart();
    }
  }

  /** A failed campaign (etcd unreachable at its start) is begun again. */
  private async restart(): Promise<void> {
    if (this.closed || this.term) return;
    const c = this.campaign;
    this.campaign = null; // its events are stale from here on
    await c?.resign().catch(() => undefined);
    if (!this.closed) this.campaignAgain();
  }

  /** Resigns (a follower takes over at once, not after the TTL) and closes the client. */
  async close(): Promise<void> {
    this.closed = true;
    await this.campaign?.resign().catch(() => undefined);
    await this.watcher?.cancel().catch(() => undefined);
    this.client.close();
  }
}
