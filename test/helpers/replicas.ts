/**
 * Real scheduler replicas on a real etcd (issue 14): N `retinad scheduler --store etcd://…`
 * processes sharing one results directory, and executors that know every replica.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { startRole, type RoleProcess } from '../../src/child-role.ts';
import { RetinaClient } from '../../src/net/client.ts';
import { startEtcd } from './etcd.ts';
import { EXECUTOR_TEST_ARGS, waitFor } from './cluster.ts';

export interface Replicas {
  token: string;
  etcdUrl: string;
  replicas: RoleProcess[];
  executors: RoleProcess[];
  client: RetinaClient;
  /** The replica the election names as leader now (polled until one is named and answers). */
  leader(timeoutMs?: number, not?: RoleProcess): Promise<RoleProcess>;
  stop(): Promise<void>;
}

export async function startReplicas(dir: string, o: { replicas: number; executors: number; leaseTtlSec?: number }): Promise<Replicas> {
  mkdirSync(dir, { recursive: true });
  const etcd = await startEtcd(path.join(dir, 'etcd'));
  const etcdUrl = `etcd://${new URL(etcd.endpoint).host}`;
  const token = randomBytes(12).toString('hex');
  const env = { RETINAD_TOKEN: token, RETINAD_LOG_LEVEL: 'debug', RETINAD_SKIP_SELF_BENCH: '1' };
  const replicas: RoleProcess[] = [];
  for (let i = 1; i <= o.replicas; i++) {
    replicas.push(await startRole(['scheduler', '--listen', '127.0.0.1:0', '--data-dir', path.join(dir, `scheduler-${i}`), '--keepalive', '1', '--allow-private-urls',
      '--store', etcdUrl, '--results', path.join(dir, 'results'), '--lease-ttl', String(o.leaseTtlSec ?? 3)], { env, logFile: path.join(dir, `scheduler-${i}.log`) }));
  }
  const all = replicas.map((r) => r.url).join(',');
  const executors: RoleProcess[] = [];
  for (let i = 1; i <= o.executors; i++) {
    executors.push(await startRole(['executor', '--listen', '127.0.0.1:0', '--device-id', `edge-${i}`, '--data-dir', path.join(dir, `edge-${i}`), '--scheduler', all, ...EXECUTOR_TEST_ARGS],
      { env, logFile: path.join(dir, `edge-${i}.log`) }));
  }
  const client = new RetinaClient({ token, senderId: 'test-initiator' });
  const etcdClient = new Etcd3({ hosts: etcd.endpoint });
  const leader = async (timeoutMs = 20_000, not?: RoleProcess) => waitFor(() => `a leader; ${electionTrail(dir, replicas.length)}`, async () => {
    const url = await etcdClient.election('retinad-scheduler').leader().catch(() => undefined);
    const r = replicas.find((x) => x.url === url && x !== not && x.child.exitCode === null && x.child.signalCode === null);
    if (!r) return undefined;
    // Leading once its server for the term answers writes' reads (the follower's server is replaced).
    const probe = await client.send('GET', `${r.url}/System/DeviceList`).catch(() => undefined);
    return probe?.status === 200 && probe.headers['x-retinad-epoch'] ? r : undefined;
  }, timeoutMs, 100);
  // Ready when the leader lists every executor online with its algorithms.
  const l = await leader();
  await waitFor('executors registered', async () => {
    const r = await client.send('GET', `${l.url}/System/DeviceList`).catch(() => undefined);
    const list = (r?.body as { DeviceList?: Array<{ Online: boolean; AlgInfoList: unknown[] }> } | undefined)?.DeviceList ?? [];
    return list.filter((d) => d.Online && d.AlgInfoList.length).length >= o.executors ? true : undefined;
  }, 30_000);
  return {
    token, etcdUrl, replicas, executors, client, leader,
    async stop() {
      await Promise.all(executors.map((e) => e.stop(3000)));
      await Promise.all(replicas.map((r) => r.stop(3000)));
      etcdClient.close();
      await client.close();
      await etcd.stop();
    },
  };
}

/** What each replica logged about the election and its terms: said when no leader is found, so a failure on CI explains itself. */
function electionTrail(dir: string, n: number): string {
  const out: string[] = [];
  for (let i = 1; i <= n; i++) {
    const f = path.join(dir, `scheduler-${i}.log`);
    const lines = existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter((l) => /lead|campaign|elect|lost|term|fenc|listen|clos/i.test(l)) : [];
    out.push(`scheduler-${i}: ${lines.slice(-10).map((l) => l.slice(0, 300)).join(' | ') || '(nothing)'}`);
  }
  return out.join(' ;; ');
}
