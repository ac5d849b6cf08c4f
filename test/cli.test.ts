/** The CLI: bad flags are named before anything starts; `retinad demo` (npm start) runs to the end. */
import t from 'tap';
import { spawnSync, spawn } from 'node:child_process';
import path from 'node:path';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { retinad } from './helpers/entry.ts';

const run = (args: string[]) => spawnSync(process.execPath, [...retinad, ...args], { encoding: 'utf8', timeout: 20_000 });

t.test('bad flags exit 2 with a message naming the flag', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['executor', '--device-id', 'x', '--data-dir', '/tmp/x'], /--listen: is required/],
    [['executor', '--listen', 'nope', '--device-id', 'x', '--data-dir', '/tmp/x'], /--listen: "nope" is not HOST:PORT/],
    [['executor', '--listen', '127.0.0.1:0', '--device-id', '一二三四五六七', '--data-dir', '/tmp/x'], /--device-id: DeviceID must be at most 20 UTF-8 bytes \(got 21\)/],
    [['executor', '--listen', '127.0.0.1:0', '--device-id', 'x', '--data-dir', '/tmp/x', '--scheduler', 'ftp://x'], /--scheduler: "ftp:\/\/x" is not an http\(s\) URL/],
    [['scheduler', '--listen', '127.0.0.1:0', '--data-dir', '/tmp/x', '--keepalive', '0'], /--keepalive: must be an integer 1\.\.3600/],
    [['scheduler', '--bogus'], /Unknown option '--bogus'/],
    [['frobnicate'], /unknown command "frobnicate"/],
  ];
  for (const [args, re] of cases) {
    const r = run(args);
    t.equal(r.status, 2, args.join(' '));
    t.match(r.stderr, re);
  }
  t.match(run(['--help']).stdout, /retinad executor/);
});

t.test('retinad version names the package version, the addon and the backend auto picks, as text and JSON', async (t) => {
  const { version } = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string };
  const text = run(['version']);
  t.equal(text.status, 0, text.stderr);
  t.match(text.stdout, new RegExp(`^retinad ${version.replace(/\./g, '\\.')}$`, 'm'));
  t.match(text.stdout, /^addon\s+(loaded: retinad_native \S+, N-API \d+|not loaded: .+)/m);
  t.match(text.stdout, /^decoder\s+auto → (native|ffmpeg-pipe) \(.+\)$/m);
  const json = run(['version', '--json']);
  t.equal(json.status, 0, json.stderr);
  const r = JSON.parse(json.stdout) as { version: string; addon: { loaded: boolean }; decoder: { auto: string; reason: string }; accelerators: { gpus: unknown[] } };
  t.equal(r.version, version);
  t.type(r.addon.loaded, 'boolean');
  t.match(r.decoder, { auto: /^(native|ffmpeg-pipe)$/, reason: /./ });
  t.ok(Array.isArray(r.accelerators.gpus));
});

t.test('retinad demo runs three processes to the end, writes frames, leaves no child behind', async (t) => {
  const out = t.testdir({});
  const child = spawn(process.execPath, [...retinad, 'demo', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.resume();
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  t.equal(code, 0, stdout);
  t.match(stdout, /task done in [\d.]+ s: 40 frames/);
  const pids = [...stdout.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
  t.equal(pids.length, 3, 'scheduler and two executors were separate processes');
  for (const pid of pids) t.notOk(existsSync(`/proc/${pid}`) && !/zombie|Z \(/.test(readProcState(pid)), `pid ${pid} gone`);
  const frameDirs = readdirSync(path.join(out, 'frames'));
  t.equal(frameDirs.length, 2, 'frames of both subtasks on disk');
});

function readProcState(pid: number): string {
  try { return spawnSync('cat', [`/proc/${pid}/stat`], { encoding: 'utf8' }).stdout; } catch { return ''; }
}

t.test('Ctrl-C during the demo leaves no child process behind', async (t) => {
  const out = t.testdir({});
  const child = spawn(process.execPath, [...retinad, 'demo', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stderr.resume();
  const pids: number[] = [];
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (c) => {
      stdout += c;
      pids.splice(0, pids.length, ...[...stdout.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1])));
      if (pids.length === 3) resolve();
    });
  });
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  t.equal(code, 130, 'demo exits 130 on Ctrl-C');
  await new Promise((r) => setTimeout(r, 500));
  for (const pid of pids) t.notOk(existsSync(`/proc/${pid}`) && !/ Z /.test(readProcState(pid)), `child ${pid} gone`);
});
