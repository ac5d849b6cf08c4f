/**
 * `retinad scheduler --store etcd://…`: one replica of a scheduler whose state is in etcd
 * (issue 14; B3, SB9). Every replica keeps a copy of the store (loaded, then watched) and serves
 * reads from it; one leads, chosen by an etcd election on a lease. The leader builds its memory
 * from the store when its term begins, places, dispatches and judges liveness; every write it
 * makes is fenced by its term, and every command carries the term's epoch. A follower passes
 * writes to the leader. A leader that loses its lease exits (like
 * kube-controller-manager): a deposed leader must not act on memory it can no longer trust, and
 * its supervisor (the systemd unit restarts it on failure) starts it again as a follower.
 */
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createLogger } from './log.ts';
import { Scheduler } from './scheduler/scheduler.ts';
import { createSchedulerServer } from './api/scheduler-server.ts';
import { setTrustedCa } from './net/client.ts';
import { EtcdStore } from './scheduler/etcd/etcd-store.ts';
import { LeaderElection, type Term } from './scheduler/etcd/election.ts';
import { HandoverListener } from './api/handover-listener.ts';
import { announce, listenUrl, onShutdown, parseListen } from './role-process.ts';
import { schedulerOptions, type SchedulerArgs } from './scheduler-role.ts';
import { parseEtcdUrl } from './etcd-url.ts';

/** Exit status of a leader that lost its term (EX_TEMPFAIL: start me again). */
export const LOST_LEADERSHIP_EXIT = 75;

/** `retinad scheduler --store etcd://… --results DIR` */
export async function runSchedulerReplica(a: SchedulerArgs & { store: string }): Promise<void> {
  const log = createLogger('scheduler');
  const endpoints = parseEtcdUrl(a.store);
  const l = parseListen(a.listen);
  setTrustedCa(a.tlsCa);
  const resultsDir = path.resolve(a.results ?? path.join(a.dataDir, 'results'));
  const store = await EtcdStore.open({ endpoints, resultsDir, log, writerId: `${(a.deviceId ?? 'scheduler').replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40)}.${randomUUID().slice(0, 8)}` });
  store.setReadOnly(true);
  let election: LeaderElection | null = null;
  let scheduler: Scheduler | null = null;
  let app: FastifyInstance | null = null;
  // The leader a follower passes writes to. Never itself: the observation can name this replica a
  // moment before its campaign is told it won (both watch the old key's deletion), and a write
  // passed to itself would come back to this same gate, again and again, while the lead waits
  // for this server to close. Until the term begins, that is an election under way (503).
  let url = '';
  const followerLeader = () => { const l = election?.leader; return l === url ? undefined : l; };
  // One socket for the replica's life; the follower's app and then the leader's serve behind it.
  const listener = new HandoverListener(a.tls);
  const serve = async (u: string, term: Term | null) => {
    scheduler = new Scheduler({ ...(await schedulerOptions(a, u, log)), store });
    if (term) scheduler.client.setHeader('x-retinad-epoch', term.epoch);
    const slot = listener.slot();
    const built = createSchedulerServer(scheduler, { token: a.token, log, metricsPublic: a.metricsPublic, serverFactory: slot.serverFactory,
      replica: term ? { epoch: term.epoch } : { follower: { leader: followerLeader } } });
    await built.ready();
    slot.activate();
    return built;
  };
  // A follower first: reads from its copy; devices another replica wrote are reloaded as they change.
  await listener.listen(l.host, l.port);
  url = a.advertise ?? listenUrl(l.host, listener.port, a.tls ? 'https' : 'http');
  app = await serve(url, null);
  store.onChange((c) => { if (c.kind === 'device' && !store.writable) scheduler?.devices.reload(c.id); });
  const exitLost = (why: string, err?: unknown) => {
    log.error({ err, why }, 'leadership lost: exiting so that a follower leads and this process starts again as one');
    process.exit(LOST_LEADERSHIP_EXIT);
  };
  store.onFenced(() => exitLost('a write was fenced: another replica leads'));
  election = new LeaderElection({ endpoints, name: 'retinad-scheduler', value: url, ttlSec: a.leaseTtlSec, log });
  election.on('lost', (err: unknown) => exitLost('the leader lease expired', err));
  election.on('elected', (term: Term) => void lead(term).catch((err: unknown) => exitLost('taking the lead failed', err)));
  const lead = async (term: Term) => {
    // Everything the previous leader made durable precedes this term's key: read it all again
    // (a consistent range at a revision after the election), then write only under the fence.
    await store.reload();
    // The follower's app and rooms go first, while the store still refuses writes (requests that
    // come meanwhile get a 503: an election is under way); a failure to close them is logged, not
    // a reason to give up the lead.
    listener.deactivate();
    await app?.close().catch((err: unknown) => log.warn({ err }, 'closing the follower server failed'));
    await scheduler?.close().catch((err: unknown) => log.warn({ err }, 'closing the follower rooms failed'));
    store.setFence({ key: term.key, createRevision: term.epoch });
    store.setReadOnly(false);
    app = await serve(url, term);
    scheduler!.start();
    log.info({ epoch: term.epoch }, 'leading: memory rebuilt from the store');
  };
  await election.start();
  announce('scheduler', url, log);
  onShutdown(log, async () => {
    await election?.close();
    await app?.close();
    await listener.close();
    await scheduler?.close();
    await store.close();
  });
}
