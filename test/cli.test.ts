/** The CLI: bad flags are named before anything starts. (`retinad demo` has its own test: test/demo.test.ts.) */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { retinad } from './helpers/entry.ts';

const run = (args: string[]) => spawnSync(process.execPath, [...retinad, ...args], { encoding: 'utf8', timeout: 20_000 });

t.test('bad flags exit 2 with a message naming the flag', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['executor', '--device-id', 'x', '--data-dir', '/tmp/x'], /--listen: is required/],
    [['executor', '--listen', 'nope', '--device-id', 'x', '--data-dir', '/tmp/x'], /--listen: "nope" is not HOST:PORT/],
    [['executor', '--listen', '127.0.0.1:0', '--device-id', '一二三四五六七', '--data-dir', '/tmp/x'], /--device-id: DeviceID must be at most 20 UTF-8 bytes \(got 21\)/],
    [['executor', '--listen', '127.0.0.1:0', '--device-id', 'x', '--data-dir', '/tmp/x', '--scheduler', 'ftp://x'], /--scheduler: "ftp:\/\/x" is not an http\(s\) URL/],
    [['executor', '--listen', '127.0.0.1:0', '--device-id', 'x', '--data-dir', '/tmp/x', '--scheduler', 'http://a:1,ftp://x'], /--scheduler: "ftp:\/\/x" is not an http\(s\) URL/],
    [['executor', '--listen', '127.0.0.1:0', '--device-id', 'x', '--data-dir', '/tmp/x', '--scheduler', 'http://a:1,,http://b:1'], /--scheduler: an empty URL in "http:\/\/a:1,,http:\/\/b:1"/],
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
  const noClip = run(['demo', '--clip', '/nonexistent/clip.mp4', '--out', path.join(t.testdirName, 'out')]);
  t.equal(noClip.status, 2, 'demo with a missing --clip');
  t.match(noClip.stderr, /--clip: no such file \/nonexistent\/clip\.mp4/);
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

t.test('ER4: retinad version --providers tries each ONNX Runtime execution provider and says why one does not load', async (t) => {
  const r = run(['version', '--json', '--providers']);
  t.equal(r.status, 0, r.stderr);
  const eps = (JSON.parse(r.stdout) as { executionProviders: Record<string, { ok: boolean; reason?: string }> }).executionProviders;
  t.match(eps.cpu, { ok: true }, 'cpu always loads');
  for (const p of ['cuda', 'tensorrt', 'openvino']) t.ok(eps[p]?.ok === true || (eps[p]?.reason ?? '').length > 0, `${p}: ${eps[p]?.ok ? 'loads' : eps[p]?.reason}`);
  t.notOk((JSON.parse(run(['version', '--json']).stdout) as { executionProviders?: unknown }).executionProviders, 'plain version does not load ONNX Runtime');
});
