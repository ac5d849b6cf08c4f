/** RFC 7616 Digest for Register: our client answers our server's challenges (SHA-256 and MD5); wrong passwords and stale nonces fail. */
import t from 'tap';
import { DigestVerifier, digestAuthorization, parseDigestParams } from '../../src/net/digest.ts';

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
