/**
 * Starts a retinad role as a child process and waits until it listens. The child gets an IPC
 * channel, so it also stops when this process dies, even by SIGKILL: no orphans.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { createWriteStream } from 'node:fs';

// The CLI beside this module: src/cli.ts when running from source (through tsx), dist/cli.js in
// the installed package. Forking bin/retinad.js would run dist/ even from source, so a test
// could exercise stale compiled code. RETINAD_CHILD_CLI names another: `npm test` compiles src/
// into .test-dist/ as it starts and points its tests' children there, sparing each of the
// hundreds of roles they start tsx's loader (0.6 s of CPU per start).
const HERE = fileURLToPath(import.meta.url);
const CLI = process.env.RETINAD_CHILD_CLI || path.join(path.dirname(HERE), `cli${path.extname(HERE)}`);

const PRELOAD = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader']);

/**
 * Node flags for the child: the parent's own flags (memory sizes and the like) without the
 * modules it preloads (`--import`, `--require`, `--loader`): those hook the parent's runtime (a
 * test runner's mocks and process tracking, say) and would be loaded again, and run on every
 * import, in each child. A .ts entry gets tsx's loader; the compiled CLI runs on plain Node.
 */
export function childExecArgv(argv: readonly string[] = process.execArgv, cli = CLI): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (PRELOAD.has(a)) { i++; continue; }
    if (a.includes('=') && PRELOAD.has(a.slice(0, a.indexOf('=')))) continue;
    out.push(a);
  }
  return cli.endsWith('.ts') ? [...out, '--import', import.meta.resolve('tsx')] : out;
}

export interface RoleProcess {
  child: ChildProcess;
  url: string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

/** Spawns `retinad <args>`; resolves once it announced its URL. Logs go to `logFile` when given. */
export function startRole(args: string[], opts: { logFile?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RoleProcess> {
  const child = fork(CLI, args, { execArgv: childExecArgv(), stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { ...process.env, ...opts.env } });
  if (opts.logFile) {
    const out = createWriteStream(opts.logFile, { flags: 'a' });
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
  } else {
    child.stdout!.resume();
    child.stderr!.resume();
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async (graceMs = 5000) => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const code = await exited;
    clearTimeout(t);
    return code;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`retinad ${args[0]} did not start within ${opts.timeoutMs ?? 30000} ms`)); }, opts.timeoutMs ?? 30_000);
    child.on('message', (m: { type?: string; url?: string }) => {
      if (m?.type === 'ready' && m.url) { clearTimeout(timer); resolve({ child, url: m.url, stop }); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`retinad ${args[0]} exited with ${code} before it was ready`)); });
  });
}
