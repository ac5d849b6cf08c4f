/** `--config FILE`: the roles' flags from YAML or JSON, checked by schema, flags win over the file. */
import t from 'tap';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { retinad } from './helpers/entry.ts';
import { startRole } from '../src/child-role.ts';
import { checkConfig, loadConfig } from '../src/config-file.ts';
import { parse as parseYaml } from 'yaml';
import { readFileSync } from 'node:fs';

const root = path.resolve(import.meta.dirname, '..');
const run = (args: string[]) => spawnSync(process.execPath, [...retinad, ...args], { encoding: 'utf8', timeout: 20_000 });

t.test('bad keys and values are named by their path', async (t) => {
  t.strictSame(checkConfig({ executor: { maxTasks: 2000, foo: 1, deviceType: 'x', pluginDevMode: 'yes' }, bogus: 1 }).sort(), [
    'bogus: unknown key (known: executor, scheduler)',
    'executor.foo: unknown key (known: listen, dataDir, token, tokenFile, advertise, deviceId, trustedKeys, pluginDevMode, tlsCert, tlsKey, tlsCa, insecure, metricsPublic, allowPrivateUrls, scheduler, commandChannel, maxTasks, deviceType, longitude, latitude, pluginWorkers, pluginThreads, pluginMaxBatch, pluginMaxMemory, mediaDir, packageDir, peer)',
    'executor.deviceType: must be an integer 0..2 (got "x")',
    'executor.maxTasks: must be an integer 1..1024 (got 2000)',
    'executor.pluginDevMode: must be true or false (got "yes")',
  ].sort());
  t.strictSame(checkConfig({ scheduler: { keepalive: 5, maxTasks: 3 } }).length, 1, 'an executor key is not a scheduler key');
  t.strictSame(checkConfig(null), [], 'an empty file is fine');

  const dir = t.testdir({ 'bad.yaml': 'executor:\n  maxTasks: 2000\n', 'broken.yaml': 'executor: [\n', 'late.yaml': 'executor:\n  listen: nope\n' });
  const bad = run(['executor', '--config', path.join(dir, 'bad.yaml')]);
  t.equal(bad.status, 2);
  t.match(bad.stderr, /^retinad: config: executor\.maxTasks: must be an integer 1\.\.1024 \(got 2000\)$/m);
  t.match(run(['executor', '--config', path.join(dir, 'broken.yaml')]).stderr, /config: .*broken\.yaml is not valid YAML/);
  t.match(run(['executor', '--config', path.join(dir, 'missing.yaml')]).stderr, /config: cannot read .*missing\.yaml \(ENOENT\)/);
  // A value the schema allows but the flag's own check refuses is still named by its key.
  const late = run(['executor', '--config', path.join(dir, 'late.yaml'), '--device-id', 'e', '--data-dir', path.join(dir, 'd')]);
  t.equal(late.status, 2);
  t.match(late.stderr, /config: executor\.listen: "nope" is not HOST:PORT/);
  t.match(run(['demo', '--config', path.join(dir, 'bad.yaml')]).stderr, /--config: only for executor and scheduler/);
});

t.test('YAML and JSON load to flag values; a token in a world-readable file is refused', async (t) => {
  const dir = t.testdir({
    'c.yaml': 'executor:\n  maxTasks: 4\n  longitude: 116.397128\n  pluginDevMode: true\n',
    'c.json': JSON.stringify({ scheduler: { keepalive: 2, dataDir: '/x' } }),
    'tok.yaml': 'executor:\n  token: abcdefghijklmnopqrstuvwx\n',
  });
  t.strictSame(loadConfig(path.join(dir, 'c.yaml'), 'executor'), { 'max-tasks': '4', longitude: '116.397128', 'plugin-dev-mode': true });
  t.strictSame(loadConfig(path.join(dir, 'c.json'), 'scheduler'), { keepalive: '2', 'data-dir': '/x' });
  t.strictSame(loadConfig(path.join(dir, 'c.json'), 'executor'), {}, 'no section for the role: nothing from the file');
  chmodSync(path.join(dir, 'tok.yaml'), 0o644);
  t.throws(() => loadConfig(path.join(dir, 'tok.yaml'), 'executor'), /executor\.token: .* is readable by every user/);
});

t.test('scheduler: one URL, "A,B", or a list of replicas; anything else is named', async (t) => {
  const dir = t.testdir({ 'r.yaml': 'executor:\n  scheduler:\n    - http://a:7100\n    - http://b:7100\n', 'dup.yaml': 'executor:\n  scheduler: [http://a:7100, http://a:7100/x]\n' });
  t.strictSame(loadConfig(path.join(dir, 'r.yaml'), 'executor'), { scheduler: ['http://a:7100', 'http://b:7100'] }, 'a YAML list: the replicas, in order');
  t.strictSame(checkConfig({ executor: { scheduler: 'http://a:7100,http://b:7100' } }), [], 'a comma-separated string too');
  t.strictSame(checkConfig({ executor: { scheduler: 5 } }), ['executor.scheduler: must be a URL or a list of URLs (got 5)']);
  const dup = run(['executor', '--config', path.join(dir, 'dup.yaml'), '--listen', '127.0.0.1:0', '--device-id', 'e', '--data-dir', path.join(dir, 'd')]);
  t.equal(dup.status, 2);
  t.match(dup.stderr, /config: executor\.scheduler: http:\/\/a:7100 is given twice/, 'a replica twice is named by its key');
});

t.test('the shipped example configs are valid', async (t) => {
  for (const f of ['executor.yaml', 'scheduler.yaml']) {
    t.strictSame(checkConfig(parseYaml(readFileSync(path.join(root, 'packaging', 'config', f), 'utf8'))), [], f);
  }
});

t.test('a role starts from the file; a flag on the command line wins', async (t) => {
  const dir = t.testdir({});
  // The file asks for a port this test never opens; the flag's port 0 must win. metricsPublic comes from the file.
  writeFileSync(path.join(dir, 'scheduler.yaml'), `scheduler:\n  listen: 127.0.0.1:1\n  dataDir: ${JSON.stringify(path.join(dir, 'data'))}\n  metricsPublic: true\n  keepalive: 7\n`);
  const s = await startRole(['scheduler', '--config', path.join(dir, 'scheduler.yaml'), '--listen', '127.0.0.1:0'], { env: { RETINAD_TOKEN: 'a-token-of-twenty-chars' } });
  t.teardown(() => s.stop(3000));
  t.not(new URL(s.url).port, '1', 'the --listen flag won over the file');
  t.equal((await fetch(`${s.url}/metrics`)).status, 200, 'metricsPublic from the file: /metrics without the token');
  t.equal((await fetch(`${s.url}/System/DeviceList`)).status, 401, 'other routes still need it');
});
