/** RFC 7616 Digest for Register: our client answers our server's challenges (SHA-256 and MD5); the RFCs' test vectors; wrong passwords, forged and stale (past the TTL) nonces fail. */
import t from 'tap';
import { DigestVerifier, NONCE_TTL_MS, digestAuthorization, digestResponse, parseDigestParams } from '../../src/api/digest.ts';

t.test('client and server agree; wrong password, wrong method and tampered nonce are refused', async (t) => {
  const v = new DigestVerifier('retinad', 's3cret');
  const ch = v.challenges();
  t.equal(ch.length, 2);
  t.match(ch[0], /algorithm=SHA-256/);
  const good = digestAuthorization(ch, { username: 'edge-1', password: 's3cret', method: 'POST', uri: '/System/Register' });
  t.match(good, /algorithm=SHA-256/, 'picks SHA-256');
  t.equal(v.verify(good, 'POST'), 'edge-1');
  t.equal(v.verify(good, 'GET'), null, 'method is bound');
  t.equal(v.verify(digestAuthorization(ch, { username: 'edge-1', password: 'nope', method: 'POST', uri: '/System/Register' }), 'POST'), null);
  const md5 = digestAuthorization(ch[1], { username: 'old-cam', password: 's3cret', method: 'POST', uri: '/System/Register' });
  t.match(md5, /algorithm=MD5/);
  t.equal(v.verify(md5, 'POST'), 'old-cam', 'MD5 still accepted for older clients');
  const p = parseDigestParams(good);
  t.equal(v.verify(good.replace(p.nonce, p.nonce.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))), 'POST'), null, 'forged nonce');
  t.equal(new DigestVerifier('retinad', 's3cret').verify(good, 'POST'), null, 'nonce of another server instance');
  t.equal(v.verify('Bearer x', 'POST'), null);
  t.equal(v.verify(undefined, 'POST'), null);
});

t.test('RFC 7616 §3.9.1 and RFC 2617 §3.5 test vectors: the response both sides compute', async (t) => {
  // RFC 7616 §3.9.1: one request answered with SHA-256 and with MD5.
  const rfc7616 = { username: 'Mufasa', realm: 'http-auth@example.org', password: 'Circle of Life', method: 'GET', uri: '/dir/index.html',
    nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v', qop: 'auth', nc: '00000001', cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ' };
  t.equal(digestResponse({ ...rfc7616, algorithm: 'SHA-256' }), '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1', 'RFC 7616 SHA-256');
  t.equal(digestResponse({ ...rfc7616, algorithm: 'MD5' }), '8ca523f5e9506fed4657c9700eebdbec', 'RFC 7616 MD5');
  // RFC 2617 §3.5 (MD5, qop=auth).
  t.equal(digestResponse({ algorithm: 'MD5', username: 'Mufasa', realm: 'testrealm@host.com', password: 'Circle Of Life', method: 'GET', uri: '/dir/index.html',
    nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', qop: 'auth', nc: '00000001', cnonce: '0a4f113b' }), '6629fae49393a05397450978507c4ef1', 'RFC 2617 MD5');
  // Our client's header for the RFC 7616 challenge carries the RFC's response.
  const challenge = `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="${rfc7616.nonce}", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`;
  const header = digestAuthorization([challenge], { username: 'Mufasa', password: 'Circle of Life', method: 'GET', uri: '/dir/index.html', cnonce: rfc7616.cnonce });
  t.equal(parseDigestParams(header).response, '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1', 'client header');
});

t.test('a nonce is accepted up to its TTL, stale after it, and never before it was issued', async (t) => {
  // An injected clock: Date.now is what the verifier reads when it issues and checks a nonce.
  const realNow = Date.now;
  let now = realNow();
  Date.now = () => now;
  t.teardown(() => { Date.now = realNow; });
  const v = new DigestVerifier('retinad', 's3cret');
  const issuedAt = now;
  const auth = digestAuthorization(v.challenges(), { username: 'edge-1', password: 's3cret', method: 'POST', uri: '/System/Register' });
  now = issuedAt + NONCE_TTL_MS;
  t.equal(v.verify(auth, 'POST'), 'edge-1', `accepted at its TTL (${NONCE_TTL_MS / 1000} s)`);
  now = issuedAt + NONCE_TTL_MS + 1;
  t.equal(v.verify(auth, 'POST'), null, 'stale one millisecond later');
  now = issuedAt - 1;
  t.equal(v.verify(auth, 'POST'), null, 'a nonce from the future (clock stepped back) is refused');
});
