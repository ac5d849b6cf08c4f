/** Real processes on loopback for integration tests: a scheduler and N executors. */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import os from 'node:os';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

/** Tests read clips and packages from the checkout and temp dirs, and talk over loopback. */
export const EXECUTOR_TEST_ARGS: readonly string[] = ['--media-dir', ROOT, '--media-dir', os.tmpdir(), '--package-dir', ROOT, '--package-dir', os.tmpdir(), '--allow-private-urls'];
import { startRole, type RoleProcess } from '../../src/child-role.ts';
import { RetinaClient } from '../../src/net/client.ts';

export interface Cluster {
  token: string;
  scheduler: RoleProcess;
  executors: RoleProcess[];
  executorIds: string[];
  /** An executor by its index in `executors` or by its DeviceID; throws when there is none. */
  executor(which: number | string): RoleProcess;
  client: RetinaClient;
  dir: string;
  stop(): Promise<void>;
}

/** Starts the processes and waits until every executor is registered with its algorithms known. */
export async function startCluster(dir: string, n = 2, opts: { keepaliveSec?: number; schedulerArgs?: string[]; executorArgs?: string[]; executorArgsFor?: (i: number) => string[]; env?: Record<string, string> } = {}): Promise<Cluster> {
  mkdirSync(dir, { recursive: true });
  const token = randomBytes(12).toString('hex');
  // The decode self-benchmark has its own test; here it would only compete for the CPU.
  const env = { RETINAD_TOKEN: token, RETINAD_LOG_LEVEL: 'debug', RETINAD_SKIP_SELF_BENCH: '1', ...(opts.env ?? {}) };
  const confine = EXECUTOR_TEST_ARGS;
  const scheduler = await startRole(['scheduler', '--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'scheduler'), '--keepalive', String(opts.keepaliveSec ?? 1), '--allow-private-urls', ...(opts.schedulerArgs ?? [])],
    { env, logFile: path.join(dir, 'scheduler.log') });
  const executors: RoleProcess[] = [];
  const executorIds: string[] = [];
  for (let i = 1; i <= n; i++) {
    const id = `edge-${i}`;
    executorIds.push(id);
    executors.push(await startRole(['executor', '--listen', '127.0.0.1:0', '--device-id', id, '--data-dir', path.join(dir, id), '--scheduler', scheduler.url, ...confine, ...(opts.executorArgs ?? []), ...(opts.executorArgsFor?.(i) ?? [])],
      { env, logFile: path.join(dir, `${id}.log`) }));
  }
  const client = new RetinaClient({ token, senderId: 'test-initiator' });
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await client.send('GET', `${scheduler.url}/System/DeviceList`);
    const list = (r.body as { DeviceList: Array<{ Online: boolean; AlgInfoList: unknown[] }> }).DeviceList;
    if (list.filter((d) => d.Online && d.AlgInfoList.length).length >= n) break;
    if (Date.now() > deadline) throw new Error('executors did not register in time');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    token, scheduler, executors, executorIds, client, dir,
    executor(which) {
      const e = executors[typeof which === 'number' ? which : executorIds.indexOf(which)];
      if (!e) throw new Error(`no executor ${JSON.stringify(which)} in this cluster (${executorIds.join(', ')})`);
      return e;
    },
    async stop() {
      await Promise.all(executors.map((e) => e.stop(3000)));
      await scheduler.stop(3000);
      await client.close();
    },
  };
}

/** Polls until `fn` returns a value other than undefined. `what` may be a function: said (and so computed) only on a timeout. */
export async function waitFor<T>(what: string | (() => string), fn: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Polls the scheduler's TaskInfo until the task is done or in error; returns the record. */
export async function waitTaskEnd(c: Cluster, taskId: string, timeoutMs = 60_000): Promise<import('../../src/protocol/index.ts').TaskInfo> {
  return waitFor(`task ${taskId} to end`, async () => {
    const x = await c.client.send('GET', `${c.scheduler.url}/System/TaskInfo/${taskId}`);
    const ti = (x.body as { TaskInfo?: import('../../src/protocol/index.ts').TaskInfo }).TaskInfo;
    return ti && (ti.ExecutionStatus === 0 || ti.ExecutionStatus === 4) ? ti : undefined;
  }, timeoutMs);
}
