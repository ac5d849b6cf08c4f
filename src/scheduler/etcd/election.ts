/**
 * B3, SB9: which scheduler replica leads, decided by an etcd election on a lease. The leader's
 * campaign key is created once per term, so its create revision only grows from one leader to
 * the next: it is the term's **epoch**, sent to executors (X-Retinad-Epoch) and compared in every
 * store transaction (the fence), so a deposed leader can neither command nor write.
 */
import { EventEmitter } from 'node:events';
import { Etcd3, type Campaign, type ElectionObserver } from 'etcd3';
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
  private observer: ElectionObserver | null = null;
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
    const election = this.client.election(this.o.name, this.o.ttlSec ?? 5);
    this.observer = await election.observe();
    this.leaderValue = this.observer.leader();
    this.observer.on('change', (v) => { this.leaderValue = v; this.o.log.info({ leader: v }, 'scheduler leader changed'); });
    this.observer.on('error', (err) => this.o.log.warn({ err }, 'leader observation failed'));
    const c = election.campaign(this.o.value);
    this.campaign = c;
    c.on('error', (err) => {
      if (this.closed) return;
      if (this.term) { this.term = null; this.emit('lost', err); } else this.o.log.warn({ err }, 'campaign failed; retrying');
      if (!this.term && !this.closed) setTimeout(() => { if (!this.closed && this.campaign === c) void this.restart(); }, 1000).unref();
    });
    c.on('elected', () => void this.onElected(c));
  }

  private async onElected(c: Campaign): Promise<void> {
    try {
      const key = await c.getCampaignKey();
      const kv = (await this.client.get(key).exec()).kvs[0];
      if (!kv) throw new Error(`campaign key ${key} vanished as it was elected`);
      this.term = { key, epoch: kv.create_revision };
      this.o.log.info({ epoch: this.term.epoch }, 'this replica leads');
      this.emit('elected', this.term);
    } catch (err) {
      this.o.log.warn({ err }, 'elected, but the term could not be read; resigning');
      await c.resign().catch(() => undefined);
      void this.restart();
    }
  }

  /** A failed campaign (etcd unreachable at its start) is begun again. */
  private async restart(): Promise<void> {
    if (this.closed || this.term) return;
    await this.campaign?.resign().catch(() => undefined);
    this.campaign = null;
    await this.observer?.cancel().catch(() => undefined);
    await this.start().catch((err: unknown) => this.o.log.warn({ err }, 'campaign restart failed'));
  }

  /** Resigns (a follower takes over at once, not after the TTL) and closes the client. */
  async close(): Promise<void> {
    this.closed = true;
    await this.campaign?.resign().catch(() => undefined);
    await this.observer?.cancel().catch(() => undefined);
    this.client.close();
  }
}
