/**
 * How a node starts (issue 10 item 3): an open API beyond loopback needs --insecure; the token can
 * come from a file (mode 600) and then never appears in the process's command line; a token file
 * others can read, an empty one, or both --token and --token-file are refused by name.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { retinad } from '../helpers/entry.ts';
import { startRole } from '../../src/child-role.ts';

const cleanEnv = () => { const e = { ...process.env }; delete e.RETINAD_TOKEN; return e; };
const run = (args: string[]) => spawnSync(process.execPath, [...retinad, ...args], { encoding: 'utf8', timeout: 20_000, env: cleanEnv() });

t.test('beyond loopback without a token: refused unless --insecure', async (t) => {
  const dir = t.testdir({});
  const r = run(['scheduler', '--listen', '0.0.0.0:0', '--data-dir', dir]);
  t.equal(r.status, 2);
  t.match(r.stderr, /--listen: 0\.0\.0\.0 is reachable from the network and no token is set/);
  const e = run(['executor', '--listen', '[::]:0', '--device-id', 'e1', '--data-dir', dir]);
  t.equal(e.status, 2, 'the executor too');
  // With --insecure it starts (and is stopped at once).
  const s = await startRole(['scheduler', '--listen', '0.0.0.0:0', '--data-dir', path.join(dir, 's'), '--insecure'], { env: cleanEnv(), logFile: path.join(dir, 's.log') });
  t.match(s.url, /^http:\/\//, `started open on purpose: ${s.url}`);
  await s.stop(3000);
});

t.test('--token-file: used, kept out of the command line; unsafe files refused', async (t) => {
  const dir = t.testdir({});
  const token = randomBytes(16).toString('hex');
  const file = path.join(dir, 'token');
  writeFileSync(file, token + '\n', { mode: 0o600 });
  const s = await startRole(['scheduler', '--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 's'), '--token-file', file], { env: cleanEnv(), logFile: path.join(dir, 's.log') });
  t.teardown(() => s.stop(3000));
  const cmdline = readFileSync(`/proc/${s.child.pid}/cmdline`, 'utf8');
  t.notOk(cmdline.includes(token), 'the token is not in /proc/PID/cmdline (ps)');
  const list = (h: Record<string, string>) => fetch(`${s.url}/System/DeviceList`, { headers: h });
  t.equal((await list({ authorization: `Bearer ${token}` })).status, 200, 'the file\'s token is the node token');
  t.equal((await list({})).status, 401, 'and it is required');

  chmodSync(file, 0o644);
  t.match(run(['scheduler', '--listen', '127.0.0.1:0', '--data-dir', dir, '--token-file', file]).stderr, /--token-file: .* is readable by every user; chmod 600 it/);
  const empty = path.join(dir, 'empty');
  writeFileSync(empty, '\n', { mode: 0o600 });
  t.match(run(['scheduler', '--listen', '127.0.0.1:0', '--data-dir', dir, '--token-file', empty]).stderr, /--token-file: .* is empty/);
  t.match(run(['scheduler', '--listen', '127.0.0.1:0', '--data-dir', dir, '--token-file', path.join(dir, 'missing')]).stderr, /--token-file: cannot read .*missing \(ENOENT\)/);
  t.match(run(['scheduler', '--listen', '127.0.0.1:0', '--data-dir', dir, '--token-file', empty, '--token', token]).stderr, /give either --token or --token-file/);
  t.match(run(['scheduler', '--listen', '127.0.0.1:0', '--data-dir', dir, '--token', 'short']).stderr, /--token: must be 16 to 256 printable ASCII/);
});
