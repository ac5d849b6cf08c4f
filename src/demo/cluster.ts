/**
 * The demo's three processes on loopback — a scheduler, a device executor (DeviceType 0) and an
 * edge executor (DeviceType 1) — set up the way docs/PLUGINS.md tells a user: each node trusts the
 * publisher's key through its `<data-dir>/trusted-keys/`, and the signed example packages are
 * published to the scheduler's repository (the HTTP call `retinad-plugin publish` makes).
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RoleProcess } from '../child-role.ts';
import { RetinaClient } from '../net/client.ts';
import type { ProcessSet } from './processes.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const examples = path.join(root, 'plugins-sdk', 'examples', 'build');

/** The example packages the demo's tasks need. */
export const PACKAGES = ['text_recognition-1.0.0.rpk', 'motion_detection-1.0.0.rpk'] as const;

export interface DemoNode {
  role: 'scheduler' | 'executor';
  id: string;
  /** Table 4 DeviceType of an executor ('0' device, '1' edge). */
  deviceType?: string;
  url: string;
  pid: number;
  proc: RoleProcess;
}

export interface DemoCluster {
  token: string;
  client: RetinaClient;
  scheduler: DemoNode;
  executors: DemoNode[];
}

/** The executors: a camera-side device and an edge server. */
const EXECUTORS = [
  { id: 'demo-device', deviceType: '0' },
  { id: 'demo-edge', deviceType: '1' },
] as const;

/** Builds the example packages if `npm install` has not (a no-op when they are current). */
export function ensureExamples(): void {
  if (PACKAGES.every((p) => existsSync(path.join(examples, p))) && existsSync(path.join(examples, 'keys', 'publisher.pub'))) return;
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-plugins.mjs')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`could not build the example plugins: ${r.stderr || r.error?.message}`);
}

/** Puts the examples' publisher key in a node's trusted-keys folder (its default location). */
function trustExamples(dataDir: string): void {
  mkdirSync(path.join(dataDir, 'trusted-keys'), { recursive: true });
  copyFileSync(path.join(examples, 'keys', 'publisher.pub'), path.join(dataDir, 'trusted-keys', 'retinad-examples.pub'));
}

/**
 * Starts the processes through `procs` (which stops them, also when a later step throws) and
 * waits until both executors are registered. The caller closes `client`.
 */
export async function startDemoCluster(out: string, procs: ProcessSet, timeoutMs = 20_000): Promise<DemoCluster> {
  const token = randomBytes(16).toString('hex');
  // The executors' decode self-benchmark would compete with the demo's tasks for the CPU.
  const env = { RETINAD_TOKEN: token, RETINAD_SKIP_SELF_BENCH: process.env.RETINAD_SKIP_SELF_BENCH ?? '1' };
  const schedDir = path.join(out, 'scheduler');
  trustExamples(schedDir);
  const sp = await procs.start(['scheduler', '--listen', '127.0.0.1:0', '--data-dir', schedDir, '--keepalive', '2'],
    { env, logFile: path.join(out, 'scheduler.log') });
  const scheduler: DemoNode = { role: 'scheduler', id: 'scheduler', url: sp.url, pid: sp.child.pid ?? -1, proc: sp };
  const executors = await Promise.all(EXECUTORS.map(async (e) => {
    const dir = path.join(out, e.id);
    trustExamples(dir);
    const p = await procs.start(['executor', '--listen', '127.0.0.1:0', '--device-id', e.id, '--device-type', e.deviceType, '--data-dir', dir, '--scheduler', sp.url],
      { env, logFile: path.join(out, `${e.id}.log`) });
    return { role: 'executor', id: e.id, deviceType: e.deviceType, url: p.url, pid: p.child.pid ?? -1, proc: p } satisfies DemoNode;
  }));
  const client = new RetinaClient({ token, senderId: 'demo-initiator' });
  const cluster: DemoCluster = { token, client, scheduler, executors };
  for (const deadline = Date.now() + timeoutMs; ;) {
    const r = await client.send('GET', `${sp.url}/System/DeviceList`);
    const list = (r.body as { DeviceList?: Array<{ Online: boolean; AlgInfoList: unknown[] }> }).DeviceList ?? [];
    if (list.filter((d) => d.Online && d.AlgInfoList.length).length >= EXECUTORS.length) break;
    if (Date.now() > deadline) throw new Error(`executors did not register within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return cluster;
}

/** `retinad-plugin publish FILE --scheduler URL --token T`, as one HTTP call; returns the AlgFileURL. */
export async function publishExample(c: DemoCluster, file: (typeof PACKAGES)[number]): Promise<string> {
  const res = await fetch(`${c.scheduler.url}/System/AlgorithmRepository`, {
    method: 'POST', body: readFileSync(path.join(examples, file)),
    headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${c.token}` },
  });
  const body = (await res.json()) as { StatusCode: string; Message?: string; AlgFileURL?: string };
  if (body.StatusCode !== '0' || !body.AlgFileURL) throw new Error(`publishing ${file} was refused (HTTP ${res.status}): ${body.Message}`);
  return body.AlgFileURL;
}

/** The path a user would pass to `retinad-plugin publish`, relative to the working directory. */
export function examplePath(file: string): string {
  const rel = path.relative(process.cwd(), path.join(examples, file));
  return rel.startsWith('..') ? path.join(examples, file) : rel;
}
