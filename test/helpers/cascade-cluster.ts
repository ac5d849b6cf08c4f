/**
 * Real processes on loopback for cascade tests (5.2): a top scheduler, lower schedulers that
 * register with it (`--upstream`), and executors under each lower scheduler.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { startRole, type RoleProcess } from '../../src/child-role.ts';
import { RetinaClient } from '../../src/net/client.ts';
import { EXECUTOR_TEST_ARGS, waitFor } from './cluster.ts';
import { defined } from './defined.ts';
import type { DevTaskStatus, TaskResultBody } from '../../src/protocol/index.ts';

export interface CascadeCluster {
  token: string;
  top: RoleProcess;
  /** Lower schedulers by DeviceID. */
  lower: Map<string, RoleProcess>;
  /** Executors by DeviceID, with the lower scheduler each is under. */
  executors: Map<string, { proc: RoleProcess; under: string }>;
  client: RetinaClient;
  dir: string;
  /** Starts a lower scheduler again on its data dir (after it was killed). */
  restartLower(id: string): Promise<RoleProcess>;
  stop(): Promise<void>;
}

type DeviceRow = { DeviceID: string; Online: boolean; AlgInfoList: unknown[] };

/** The DeviceList of a scheduler. */
export async function deviceList(client: RetinaClient, url: string): Promise<DeviceRow[]> {
  return ((await client.send('GET', `${url}/System/DeviceList`)).body as { DeviceList: DeviceRow[] }).DeviceList;
}

/**
 * Starts `top`, then each lower scheduler of `sites` (DeviceID → its executors' DeviceIDs), then
 * the executors; resolves when every executor is listed online with algorithms at its lower
 * scheduler and every lower scheduler at the top with the union of them.
 */
export async function startCascade(dir: string, sites: Record<string, string[]>, opts: { keepaliveSec?: number; topArgs?: string[]; lowerArgs?: (id: string) => string[]; executorArgs?: (id: string) => string[] } = {}): Promise<CascadeCluster> {
  mkdirSync(dir, { recursive: true });
  const token = randomBytes(12).toString('hex');
  const env = { RETINAD_TOKEN: token, RETINAD_LOG_LEVEL: 'debug', RETINAD_SKIP_SELF_BENCH: '1' };
  const ka = String(opts.keepaliveSec ?? 1);
  const procs: RoleProcess[] = [];
  const client = new RetinaClient({ token, senderId: 'test-initiator' });
  const stop = async () => {
    await Promise.all(procs.slice(1).reverse().map((p) => p.stop(3000)));
    await procs[0]?.stop(3000);
    await client.close();
  };
  try {
    const top = await startRole(['scheduler', '--listen', '127.0.0.1:0', '--device-id', 'top', '--data-dir', path.join(dir, 'top'), '--keepalive', ka, '--allow-private-urls', ...(opts.topArgs ?? [])],
      { env, logFile: path.join(dir, 'top.log') });
    procs.push(top);
    const lower = new Map<string, RoleProcess>();
    const executors = new Map<string, { proc: RoleProcess; under: string }>();
    const startLower = (id: string, port = '0', log = `${id}.log`) => startRole(['scheduler', '--listen', `127.0.0.1:${port}`, '--device-id', id, '--data-dir', path.join(dir, id), '--keepalive', ka, '--allow-private-urls',
      '--upstream', top.url, '--device-type', '1', ...(opts.lowerArgs?.(id) ?? [])], { env, logFile: path.join(dir, log) });
    for (const [id, edges] of Object.entries(sites)) {
      const p = await startLower(id);
      procs.push(p);
      lower.set(id, p);
      for (const e of edges) {
        const x = await startRole(['executor', '--listen', '127.0.0.1:0', '--device-id', e, '--data-dir', path.join(dir, e), '--scheduler', p.url, ...EXECUTOR_TEST_ARGS, ...(opts.executorArgs?.(e) ?? [])],
          { env, logFile: path.join(dir, `${e}.log`) });
        procs.push(x);
        executors.set(e, { proc: x, under: id });
      }
    }
    await waitFor('the cascade to assemble', async () => {
      for (const [id, p] of lower) {
        const mine = await deviceList(client, p.url);
        if (mine.filter((d) => d.Online && d.AlgInfoList.length).length < (sites[id]?.length ?? 0)) return undefined;
      }
      const atTop = await deviceList(client, top.url);
      return [...lower.keys()].every((id) => atTop.some((d) => d.DeviceID === id && d.Online && d.AlgInfoList.length)) ? true : undefined;
    }, 30_000, 200);
    const restartLower = async (id: string) => {
      // The same port: its executors and the top know it by its URL.
      const old = new URL(defined(lower.get(id), id).url);
      const p = await startLower(id, old.port, `${id}-2.log`);
      procs.push(p);
      lower.set(id, p);
      return p;
    };
    return { token, top, lower, executors, client, dir, restartLower, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A tiny initiator: records the statuses and results pushed to its NotifyURL. */
export function initiator(): Promise<{ url: string; statuses: number[]; results: TaskResultBody[]; close(): void }> {
  const state = { statuses: [] as number[], results: [] as TaskResultBody[] };
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const j = JSON.parse(body || '{}');
      if (req.method === 'PATCH' && req.url?.startsWith('/System/TaskStatus')) for (const s of (j as DevTaskStatus).TaskStatusList ?? []) state.statuses.push(s.ExecutionStatus);
      else if (req.url === '/System/Command' && j.CommandType === 'task_result') state.results.push(j.MessageBody as TaskResultBody);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ StatusCode: '0', CommandType: j.CommandType, CommandIdx: j.CommandIdx }));
    });
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => {
    resolve({ url: `http://127.0.0.1:${(srv.address() as { port: number }).port}`, statuses: state.statuses, results: state.results, close: () => { srv.closeAllConnections(); srv.close(); } });
  }));
}

/** Beijing: the area the cascade tests constrain tasks to (executors register inside or outside it). */
export const AREA = { LongitudeMin: '116.000000', LongitudeMax: '117.000000', LatitudeMin: '39.000000', LatitudeMax: '40.000000' };
