/**
 * Register over Digest against a real scheduler process, with the real `curl` binary as the
 * client (issue 10 item 3): curl's empty-body probe gets the 401 challenge (it used to get 400
 * "Body cannot be empty", so no Digest client could register); curl then registers. A captured
 * Authorization header cannot be replayed (with another CommandURL in the body), MD5 is refused,
 * and a device cannot register under another DeviceID.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { startCluster } from '../helpers/cluster.ts';
import { digestAuthorization } from '../../src/net/digest.ts';

const body = (id: string, commandUrl = 'http://192.0.2.10:7200') =>
  JSON.stringify({ RegisterObject: { DeviceID: id, DeviceType: '1', ProductType: 'curl-test', CommandURL: commandUrl } });

t.test('curl --digest registers; replay, MD5 and another DeviceID are refused', async (t) => {
  const c = await startCluster(path.join(t.testdirName, 'c'), 0);
  t.teardown(() => c.stop());
  const url = `${c.scheduler.url}/System/Register`;
  const curl = (args: string[]) => spawnSync('curl', ['-sS', '-w', '\n%{http_code}', ...args], { encoding: 'utf8', timeout: 20_000 });

  // The probe alone: curl sends the POST with an empty body first and needs a 401 with a challenge.
  const probe = spawnSync('curl', ['-sS', '-o', '/dev/null', '-D', '-', '-X', 'POST', '-H', 'Content-Type: application/json', url], { encoding: 'utf8' });
  t.match(probe.stdout, /^HTTP\/1\.1 401/m, 'an unauthenticated empty POST gets 401, not 400');
  t.match(probe.stdout, /^www-authenticate: Digest realm="retinad", qop="auth", algorithm=SHA-256, nonce="[^"]+"/im, 'with a SHA-256 challenge');

  const ok = curl(['--digest', '-u', `cam-7:${c.token}`, '-H', 'Content-Type: application/json', '-d', body('cam-7'), url]);
  const [okBody = '', okCode] = ok.stdout.split('\n');
  t.equal(okCode, '200', `curl --digest: ${ok.stdout} ${ok.stderr}`);
  t.match(JSON.parse(okBody), { StatusCode: '0', SessionToken: /./ }, 'registered with a session token');

  const wrong = curl(['--digest', '-u', 'cam-7:not-the-token', '-H', 'Content-Type: application/json', '-d', body('cam-7'), url]);
  t.equal(wrong.stdout.split('\n').pop(), '401', 'wrong password');

  const other = curl(['--digest', '-u', `cam-8:${c.token}`, '-H', 'Content-Type: application/json', '-d', body('cam-9'), url]);
  t.equal(other.stdout.split('\n').pop(), '401', 'authenticated as cam-8, registering cam-9: refused');
  t.match(other.stdout, /Digest username must equal RegisterObject\.DeviceID/);

  // Capture a good Authorization header, use it once, then replay it with another CommandURL.
  const ch = await fetch(url, { method: 'POST' });
  t.equal(ch.status, 401);
  const auth = digestAuthorization(ch.headers.get('www-authenticate')!, { username: 'cam-10', password: c.token, method: 'POST', uri: '/System/Register' });
  const send = (b: string, a = auth) => fetch(url, { method: 'POST', headers: { authorization: a, 'content-type': 'application/json' }, body: b });
  t.equal((await send(body('cam-10'))).status, 200, 'the captured header works once');
  const replay = await send(body('cam-10', 'http://198.51.100.66/evil'));
  t.equal(replay.status, 401, 'replayed with another CommandURL: refused');
  t.match(replay.headers.get('www-authenticate') ?? '', /stale=true/, 'answered stale: the nonce is spent');

  const md5 = await fetch(url, { method: 'POST', headers: { authorization: auth.replace('algorithm=SHA-256', 'algorithm=MD5'), 'content-type': 'application/json' }, body: body('cam-10') });
  t.equal(md5.status, 401, 'MD5 answer refused');

  const list = await c.client.send('GET', `${c.scheduler.url}/System/DeviceList`);
  const devices = (list.body as { DeviceList: Array<{ DeviceID: string; CommandURL?: string }> }).DeviceList;
  t.strictSame(devices.map((d) => d.DeviceID).sort(), ['cam-10', 'cam-7'], 'only the two honest registrations exist');
  t.notOk(JSON.stringify(devices).includes('198.51.100.66'), 'the replayed CommandURL never got in');
});
