/**
 * B3, SB9: the scheduler replicas' election on a real etcd. One leads at a time; a resigning
 * leader hands over at once with a higher epoch; when etcd stalls past every lease the leader is
 * told it lost, and the replicas settle on exactly one new leader that every observer names, and
 * stay settled (a stale campaign's late events must not resign the one that replaced it).
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { LeaderElection, type Term } from '../../src/scheduler/etcd/election.ts';
import { etcdMissing, startEtcd } from '../helpers/etcd.ts';

const log = pino({ level: 'silent' });

async function until<T>(fn: () => T | undefined, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

t.test('leader election', { skip: etcdMissing }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'retinad-election-'));
  const etcd = await startEtcd(dir);
  t.teardown(async () => { await etcd.stop(); rmSync(dir, { recursive: true, force: true }); });
  let n = 0;
  const group = async (size: number, ttlSec: number) => {
    const name = `election-${++n}`;
    const members = Array.from({ length: size }, (_, i) => {
      const e = new LeaderElection({ endpoints: [etcd.endpoint], name, value: `http://replica-${i}`, ttlSec, log });
      const terms: Term[] = [];
      const lost: unknown[] = [];
      e.on('elected', (term: Term) => terms.push(term));
      e.on('lost', (err: unknown) => lost.push(err));
      return { e, terms, lost, value: `http://replica-${i}` };
    });
    for (const m of members) await m.e.start();
    t.teardown(() => Promise.all(members.map((m) => m.e.close())));
    return members;
  };
  const leaders = (ms: Awaited<ReturnType<typeof group>>) => ms.filter((m) => m.e.current);

  t.test('one leads; its resignation hands over at once, with a higher epoch', async (t) => {
    const ms = await group(3, 5);
    const first = await until(() => (leaders(ms).length === 1 ? leaders(ms)[0] : undefined), 'a leader');
    await until(() => (ms.every((m) => m.e.leader === first.value) ? true : undefined), 'every observer names it');
    const resignedAt = Date.now();
    await first.e.close();
    const rest = ms.filter((m) => m !== first);
    const next = await until(() => (leaders(rest).length === 1 ? leaders(rest)[0] : undefined), 'a second leader');
    t.ok(Date.now() - resignedAt < 4000, `handed over in ${Date.now() - resignedAt} ms, not after the 5 s lease`);
    t.ok(BigInt(next.e.current!.epoch) > BigInt(first.terms[0]!.epoch), `epoch ${next.e.current!.epoch} > ${first.terms[0]!.epoch}`);
    t.equal(leaders(rest).length, 1, 'exactly one leads');
  });

  t.test('etcd stalls past every lease: the leader is told it lost; one new leader, named by all, and it stays', async (t) => {
    const ms = await group(3, 2);
    const first = await until(() => (leaders(ms).length === 1 ? leaders(ms)[0] : undefined), 'a leader');
    etcd.pause();
    await new Promise((r) => setTimeout(r, 5500)); // > 2 × TTL: every lease is past saving
    etcd.resume();
    await until(() => (first.lost.length ? true : undefined), 'the old leader to be told its lease is lost');
    t.equal(first.e.current, null, 'the old leader no longer claims a term');
    // The deposed replica is one its owner restarts (the role exits 75); the others settle.
    const rest = ms.filter((m) => m !== first);
    const next = await until(() => (leaders(rest).length === 1 ? leaders(rest)[0] : undefined), 'one new leader');
    await until(() => (rest.every((m) => m.e.leader === next.value) ? true : undefined), 'every observer names it');
    const elections = rest.map((m) => m.terms.length);
    await new Promise((r) => setTimeout(r, 3000));
    t.equal(leaders(rest).length, 1, 'still exactly one leader three seconds on');
    t.equal(next.e.current?.epoch, next.terms.at(-1)?.epoch, 'the same term');
    t.same(rest.map((m) => m.terms.length), elections, 'no replica was elected again: no churn');
    t.ok(rest.every((m) => !m.lost.length), 'no follower was told it lost a term it never had');
  });
});
