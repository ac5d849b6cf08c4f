/**
 * A real etcd for tests: Debian's `etcd` binary (3.4) on free loopback ports, its data under the
 * test's directory, answering before `startEtcd` resolves and killed by `stop()`.
 *
 * Ports are found by binding port 0 and releasing it, so another process can take one before
 * etcd binds it; a start that fails that way is tried again on new ports. The environment is
 * emptied of ETCD_* variables (etcd reads its flags from them too). Root is fine: etcd 3.4 only
 * insists that its data directory is 0700, so it is left for etcd to create.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { findEtcdctl } from '../../src/scheduler/etcd/restore.ts';

/** Where the binary is; RETINAD_ETCD_BIN overrides. */
export const ETCD_BIN = process.env.RETINAD_ETCD_BIN ?? '/usr/bin/etcd';

/** True when an etcd binary is there (tests skip with this reason otherwise). */
export const etcdMissing: string | false = existsSync(ETCD_BIN) ? false : `no etcd binary at ${ETCD_BIN} (apt-get install etcd-server, or set RETINAD_ETCD_BIN)`;

export interface EtcdProcess {
  /** The client URL, http://127.0.0.1:PORT. */
  endpoint: string;
  /** Kills etcd (SIGTERM, then SIGKILL after 5 s) and waits for it to exit. */
  stop(): Promise<void>;
  /** Freezes etcd (SIGSTOP): it keeps its ports and data but answers nothing, as an unreachable one. Returns once it is stopped. */
  pause(): void;
  /** Lets a paused etcd run again (SIGCONT). */
  resume(): void;
  /** The etcd process's id (benches read its CPU time). */
  readonly pid: number | undefined;
  /** Stops etcd and starts it again on the same ports and data: every client connection drops. */
  restart(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Returns once the kernel shows `pid` stopped (state T in /proc/<pid>/stat), at most 2 s: a
 * signal is delivered when the process next runs, so without this a request sent right after
 * pause() can still be answered — on a loaded machine, often enough to fail a test.
 */
function waitStopped(pid: number | undefined): void {
  if (!pid) return;
  const end = Date.now() + 2000;
  while (Date.now() < end) {
    let state = '';
    try { const s = readFileSync(`/proc/${pid}/stat`, 'utf8'); state = s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3); } catch { return; }
    if (state === 'T' || state === 't' || state === 'Z') return;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
  }
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

/** One etcd process on given ports; resolves once /health answers, else rejects with its stderr. */
async function launch(dataDir: string, client: number, peer: number, timeoutMs: number): Promise<{ stop(): Promise<void>; child: ChildProcess }> {
  const endpoint = `http://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD_')));
  const child = spawn(ETCD_BIN, [
    '--name', 'test', '--data-dir', dataDir,
    '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
    '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl,
    '--initial-cluster', `test=${peerUrl}`, '--initial-cluster-state', 'new',
    '--logger', 'zap', '--log-outputs', 'stderr', '--log-level', 'error',
  ], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-4000); });
  // A test process that ends without stop() (a failed assertion's throw, tap's timeout) takes etcd along.
  const orphan = () => { child.kill('SIGCONT'); child.kill('SIGKILL'); };
  process.once('exit', orphan);
  child.once('exit', () => process.removeListener('exit', orphan));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGCONT'); // a paused etcd cannot act on SIGTERM
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited(child);
    clearTimeout(timer);
  };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && child.exitCode === null) {
    if (await fetch(`${endpoint}/health`).then((r) => r.ok, () => false)) return { stop, child };
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`etcd did not answer at ${endpoint} within ${timeoutMs} ms (exit ${child.exitCode ?? child.signalCode}): ${stderr.trim().slice(-1000)}`);
}

/**
 * Starts etcd with its data in `dir`/etcd-<port>, or in `o.dataDir` (one that exists, e.g. made by
 * `etcdctl snapshot restore`: etcd then keeps the member and cluster it holds); resolves once
 * /health answers.
 */
export async function startEtcd(dir: string, timeoutMs = 20_000, o: { dataDir?: string } = {}): Promise<EtcdProcess> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const [client, peer] = [await freePort(), await freePort()];
    const dataDir = o.dataDir ?? path.join(dir, `etcd-${client}`);
    try {
      let run = await launch(dataDir, client, peer, timeoutMs);
      return {
        endpoint: `http://127.0.0.1:${client}`,
        stop: () => run.stop(),
        pause: () => { run.child.kill('SIGSTOP'); waitStopped(run.child.pid); },
        resume: () => run.child.kill('SIGCONT'),
        get pid() { return run.child.pid; },
        restart: async () => { await run.stop(); run = await launch(dataDir, client, peer, timeoutMs); },
      };
    } catch (err) {
      lastError = err; // most likely a port taken between freePort() and etcd's bind
    }
  }
  throw lastError;
}

/** False when etcdctl (Debian's etcd-client) is on PATH; else why restore tests skip. */
export const etcdctlMissing: string | false = (() => {
  try { findEtcdctl(); return false; } catch (err) { return (err as Error).message; }
})();
