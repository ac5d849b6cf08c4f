/**
 * RFC 7616 Digest for Register (PROTOCOL session; issue 10 item 3): the response matches the
 * RFC's own SHA-256 example; our client and server agree; wrong password, method, uri, realm,
 * forged or foreign nonces, MD5 and qop-less (RFC 2069) answers are refused; a nonce answers one
 * request (no replay) and expires after 60 s (answered stale=true).
 */
import t from 'tap';
import { DigestVerifier, digestAuthorization, digestResponse, parseDigestParams } from '../../src/net/digest.ts';

const URI = '/System/Register';

t.test('RFC 7616 §3.9.1 test vector (SHA-256)', async (t) => {
  t.equal(digestResponse({ username: 'Mufasa', realm: 'http-auth@example.org', password: 'Circle of Life', method: 'GET', uri: '/dir/index.html',
    nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v', nc: '00000001', cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ' }),
  '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
});

t.test('client and server agree; every wrong part is refused', async (t) => {
  const v = new DigestVerifier('retinad', 's3cret');
  const ch = v.challenges();
  t.equal(ch.length, 1);
  t.match(ch[0], /algorithm=SHA-256/);
  t.match(ch[0], /qop="auth"/);
  const good = digestAuthorization(ch, { username: 'edge-1', password: 's3cret', method: 'POST', uri: URI });
  t.equal(v.verify(good.replace('/System/Register', '/System/Other'), 'POST', '/System/Other'), null, 'the signed uri is part of the response');
  t.equal(v.verify(good, 'POST', '/System/Register?x=1'), null, 'uri must be the request\'s');
  t.equal(v.verify(good, 'GET', URI), null, 'method is bound');
  t.equal(v.verify(digestAuthorization(ch, { username: 'edge-1', password: 'nope', method: 'POST', uri: URI }), 'POST', URI), null, 'wrong password');
  const nonce = parseDigestParams(good).nonce ?? '';
  t.ok(nonce, 'the answer carries a nonce');
  t.equal(v.verify(good.replace(nonce, nonce.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))), 'POST', URI), null, 'forged nonce');
  t.equal(v.verify(good.replace('realm="retinad"', 'realm="other"'), 'POST', URI), null, 'other realm');
  t.equal(new DigestVerifier('retinad', 's3cret').verify(good, 'POST', URI), null, 'nonce of another server instance');
  t.equal(v.verify('Bearer x', 'POST', URI), null);
  t.equal(v.verify(undefined, 'POST', URI), null);
  t.equal(v.verify(good, 'POST', URI), 'edge-1', 'the right answer passes once');
  t.strictSame(v.check(good, 'POST', URI), { fail: 'stale' }, 'and never again: a replay is refused (stale)');
});

t.test('MD5 and RFC 2069 (no qop) answers are refused', async (t) => {
  const v = new DigestVerifier('retinad', 's3cret');
  const good = digestAuthorization(v.challenges(), { username: 'cam', password: 's3cret', method: 'POST', uri: URI });
  t.strictSame(v.check(good.replace('algorithm=SHA-256', 'algorithm=MD5'), 'POST', URI), { fail: 'invalid' }, 'MD5');
  t.strictSame(v.check(good.replace(', qop=auth', ''), 'POST', URI), { fail: 'invalid' }, 'no qop');
  t.strictSame(v.check(good.replace(/, algorithm=SHA-256/, ''), 'POST', URI), { fail: 'invalid' }, 'algorithm absent means MD5');
  t.throws(() => digestAuthorization('Digest realm="r", nonce="n", algorithm=MD5', { username: 'a', password: 'b', method: 'POST', uri: URI }), /no SHA-256 Digest challenge/);
});

t.test('a nonce expires after 60 s (injected clock): stale=true, and the next challenge works', async (t) => {
  let now = 1_000_000;
  const v = new DigestVerifier('retinad', 's3cret', () => now);
  const good = digestAuthorization(v.challenges(), { username: 'edge-1', password: 's3cret', method: 'POST', uri: URI });
  now += 60_001;
  t.strictSame(v.check(good, 'POST', URI), { fail: 'stale' }, 'expired');
  const ch = v.challenges(true);
  t.match(ch[0], /stale=true/);
  t.equal(v.verify(digestAuthorization(ch, { username: 'edge-1', password: 's3cret', method: 'POST', uri: URI }), 'POST', URI), 'edge-1');
});

t.test('outstanding nonces are bounded', async (t) => {
  const v = new DigestVerifier('retinad', 's3cret');
  const first = digestAuthorization(v.challenges(), { username: 'a', password: 's3cret', method: 'POST', uri: URI });
  for (let i = 0; i < 10_050; i++) v.challenges();
  t.strictSame(v.check(first, 'POST', URI), { fail: 'stale' }, 'the oldest of 10,051 challenges was dropped');
});
