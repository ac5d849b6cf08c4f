/**
 * HTTPS on both roles (issue 10 item 3): a scheduler and an executor serve TLS with certificates
 * of a private CA; each verifies the other with --tls-ca (the executor registers, the scheduler
 * queries its algorithms over TLS); curl verifies with the CA and fails without it; bad TLS
 * flags are named.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startRole } from '../../src/child-role.ts';
import { RetinaClient, setTrustedCa } from '../../src/net/client.ts';
import { readFileSync } from 'node:fs';
import { retinad } from '../helpers/entry.ts';
import { waitFor } from '../helpers/cluster.ts';

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

/** A CA and a certificate for 127.0.0.1 signed by it. */
function makePki(dir: string): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=retinad test CA', '-keyout', 'ca.key', '-out', 'ca.pem'], dir);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'node.key', '-out', 'node.csr'], dir);
  openssl(['x509', '-req', '-in', 'node.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', 'node.pem', '-extfile', path.join(dir, 'san.cnf')], dir);
}

t.test('scheduler and executor over HTTPS, verified with a private CA', async (t) => {
  const dir = t.testdir({ 'san.cnf': 'subjectAltName=IP:127.0.0.1\n' });
  makePki(dir);
  const token = randomBytes(16).toString('hex');
  const env = { RETINAD_TOKEN: token, RETINAD_SKIP_SELF_BENCH: '1' };
  const tls = ['--tls-cert', path.join(dir, 'node.pem'), '--tls-key', path.join(dir, 'node.key'), '--tls-ca', path.join(dir, 'ca.pem')];
  const s = await startRole(['scheduler', '--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 's'), '--keepalive', '1', ...tls], { env, logFile: path.join(dir, 's.log') });
  t.teardown(() => s.stop(3000));
  t.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/, 'the scheduler announces an https URL');
  const e = await startRole(['executor', '--listen', '127.0.0.1:0', '--device-id', 'tls-edge', '--data-dir', path.join(dir, 'e'), '--scheduler', s.url, ...tls], { env, logFile: path.join(dir, 'e.log') });
  t.teardown(() => e.stop(3000));
  t.match(e.url, /^https:/);

  setTrustedCa(readFileSync(path.join(dir, 'ca.pem')));
  const client = new RetinaClient({ token, senderId: 'tls-test' });
  setTrustedCa(undefined);
  t.teardown(() => client.close());
  const dev = await waitFor('the executor registered over TLS with its algorithms known', async () => {
    const r = await client.send('GET', `${s.url}/System/DeviceList`);
    const d = (r.body as { DeviceList: Array<{ DeviceID: string; Online: boolean; AlgInfoList: unknown[] }> }).DeviceList.find((x) => x.DeviceID === 'tls-edge');
    return d?.Online && d.AlgInfoList.length ? d : undefined;
  }, 20_000);
  t.ok(dev.AlgInfoList.length > 0, 'the scheduler reached the executor\'s HTTPS CommandURL (algorithm_res_query)');

  const ok = spawnSync('curl', ['-sS', '--cacert', path.join(dir, 'ca.pem'), `${s.url}/System/Time`], { encoding: 'utf8' });
  t.equal(ok.status, 0, `curl with the CA: ${ok.stderr}`);
  t.match(ok.stdout, /"StatusCode":"0"/);
  const bad = spawnSync('curl', ['-sS', `${s.url}/System/Time`], { encoding: 'utf8' });
  t.equal(bad.status, 60, 'curl without the CA: certificate not trusted (exit 60)');
  const plain = spawnSync('curl', ['-sS', s.url.replace('https:', 'http:') + '/System/Time'], { encoding: 'utf8' });
  t.not(plain.status, 0, 'plain HTTP to the TLS port fails');
  const noCa = new RetinaClient({ token, senderId: 'no-ca' });
  await t.rejects(noCa.send('GET', `${s.url}/System/Time`), /self.signed|unable to (get|verify)|certificate/i, 'our client without --tls-ca refuses the certificate');
  await noCa.close();
});

t.test('bad TLS flags are named', async (t) => {
  const dir = t.testdir({ 'san.cnf': 'subjectAltName=IP:127.0.0.1\n', 'junk.pem': 'not a certificate' });
  makePki(dir);
  const run = (args: string[]) => spawnSync(process.execPath, [...retinad, 'scheduler', '--listen', '127.0.0.1:0', '--data-dir', dir, '--token', 'x'.repeat(20), ...args], { encoding: 'utf8', timeout: 20_000 });
  t.match(run(['--tls-cert', path.join(dir, 'node.pem')]).stderr, /--tls-cert and --tls-key go together/);
  t.match(run(['--tls-cert', path.join(dir, 'junk.pem'), '--tls-key', path.join(dir, 'node.key')]).stderr, /--tls-cert: .*junk\.pem is not a PEM certificate/);
  t.match(run(['--tls-cert', path.join(dir, 'node.pem'), '--tls-key', path.join(dir, 'ca.key')]).stderr, /--tls-key: does not fit --tls-cert/);
  t.match(run(['--tls-ca', path.join(dir, 'nope.pem')]).stderr, /--tls-ca: cannot read .*nope\.pem \(ENOENT\)/);
});
