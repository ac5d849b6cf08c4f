/**
 * EC7 attacks on `POST /System/AlgorithmRepository/Transfer`, across real processes (a top
 * scheduler, lower-a and lower-b registered with it, an executor under each; the top trusts
 * lower-a's trained-models key, not lower-b's). Bytes and the node token go only to configured
 * peers: a peer that is not one, a URL or a path in the body reaches nobody; the receiving
 * repository stores nothing that fails its own checks — a tampered package, an untrusted key,
 * a package that is not the version asked for, an oversized one, a version it holds with other
 * bytes — and says why. Generated malformed bodies get 400 naming the field and the rule.
 */
import t, { type Test } from 'tap';
import http from 'node:http';
import path from 'node:path';
import { existsSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { request } from 'undici';
import { publishTo, repoList, transfer, transferCascade, versionOf, type TransferCascade } from '../helpers/transfer.ts';
import { buildExamples } from '../helpers/examples.ts';
import { arbitraryOf, sitesOf, withField, wrongTypeFor, oneByteTooLong, outOfRangeFor, renderPath, DELETE } from '../helpers/schema-arbitrary.ts';
import { FC_SEED } from '../helpers/seed.ts';
import { defined } from '../helpers/defined.ts';
import { buildPackage, readTarGz, verifyPackage, writeTarGz } from '../../src/plugins/package-file.ts';
import { TrustStore } from '../../src/plugins/keys.ts';
import { TransferRequest } from '../../src/protocol/index.ts';
import { TRANSFER_MAX_BYTES } from '../../src/protocol/index.ts';

let x: TransferCascade;
let dir: string;
/** An attacker's server: records every request that reaches it. */
const seen: Array<{ url: string; auth?: string }> = [];
const spy = http.createServer((req, res) => { seen.push({ url: req.url ?? '', auth: req.headers.authorization }); res.end('{}'); });
let spyUrl = '';

t.before(async () => {
  t.equal(buildExamples(), 0);
  dir = t.testdir({});
  x = await transferCascade(dir, { 'lower-a': ['edge-a1'], 'lower-b': ['edge-b1'] }, ['lower-a']);
  await new Promise<void>((r) => spy.listen(0, '127.0.0.1', r));
  spyUrl = `http://127.0.0.1:${(spy.address() as { port: number }).port}`;
});
t.teardown(async () => { spy.close(); await x?.c.stop(); });

const url = (id: string) => (id === 'top' ? x.c.top.url : defined(x.c.lower.get(id), id).url);
const key = (id: string) => defined(x.keys.get(id), id);
const atTop = async (v: string) => (await repoList(x.c.client, url('top'))).find((e) => e.AlgID === 2006 && e.AlgVersion === v);
/** The package file a scheduler serves for a version (what a compromised peer could replace). */
const fileAt = (id: string, v: string) => path.join(dir, 'cascade', id, 'repository', '2006', `${v}.rpk`);
const pull = (at: string, Peer: string, AlgVersion: string, extra: Record<string, unknown> = {}) => transfer(x.c.client, url(at), { AlgID: 2006, AlgVersion, Peer, Direction: 'pull', ...extra });
/** Publishes `v` at lower-a (signed with lower-a's trained-models key), then makes lower-a serve `serve` for it instead. */
async function servedAtLowerA(t: Test, v: string, serve: (pkg: Buffer) => Buffer): Promise<void> {
  const pkg = versionOf('motion_detection-1.0.0', v, key('lower-a').privatePem);
  t.equal((await publishTo(url('lower-a'), pkg, x.c.token)).status, 200, `lower-a publishes ${v}`);
  writeFileSync(fileAt('lower-a', v), serve(pkg));
}

t.test('EC7: a Peer that is not a configured one is refused and nothing is contacted', async (t) => {
  for (const [at, peer] of [['top', 'nobody'], ['top', 'edge-a1'], ['lower-a', 'edge-a1'], ['lower-a', 'lower-b'], ['lower-b', 'lower-a'], ['top', 'top']] as const) {
    const r = await pull(at, peer, '1.0.0');
    t.equal(r.status, 404, `${at} → ${peer}: ${JSON.stringify(r.body)}`);
    t.match(r.body, { StatusCode: '1', Message: new RegExp(`^Peer: "${peer}" is not a configured peer`) }, `${at} names why ${peer} is not its peer`);
  }
  const push = await transfer(x.c.client, url('lower-a'), { AlgID: 2006, AlgVersion: '1.0.0', Peer: 'edge-a1', Direction: 'push' });
  t.equal(push.status, 404, 'an executor is not a repository to push to');
  t.strictSame(seen, [], 'nobody else was contacted');
});

t.test('EC7: a URL or path where a peer is named is refused; URL members beside it are never used', async (t) => {
  for (const peer of [spyUrl, 'http:x', '//127.0.0.1', '../lower-a', 'lower-a/..', 'a\\b', 'lower-a?x=1']) {
    const r = await pull('top', peer, '1.0.0');
    t.equal(r.status, 400, `${peer}: ${JSON.stringify(r.body)}`);
    t.match(r.body.Message, /^Peer: /, 'the Message names Peer');
  }
  for (const v of ['../../etc/passwd', '1.0.0/../../x', '..%2F..', '1.0.0.rpk?x', '/abs']) {
    const r = await pull('top', 'lower-a', v);
    t.equal(r.status, 400, `AlgVersion ${v}: ${JSON.stringify(r.body)}`);
    t.match(r.body.Message, /^AlgVersion: /, 'the Message names AlgVersion');
  }
  // Unknown members are ignored (PROTOCOL.md): a URL offered beside the peer goes nowhere.
  const r = await pull('top', 'nobody', '1.0.0', { URL: spyUrl, AlgFileURL: `${spyUrl}/x.rpk`, PeerURL: spyUrl, CommandURL: spyUrl });
  t.equal(r.status, 404);
  const pulled = await pull('top', 'lower-a', '9.9.9', { AlgFileURL: `${spyUrl}/x.rpk` });
  t.match(pulled, { status: 404, body: { Message: /^AlgVersion: lower-a has no AlgID 2006 9\.9\.9/ } }, 'asked of the configured peer only');
  t.strictSame(seen, [], 'the attacker\'s server saw no request, and so no token');
});

t.test('EC7: a tampered package (manifest edited under its signature, or a file swapped) is refused and not stored', async (t) => {
  await servedAtLowerA(t, '1.0.3', (pkg) => {
    const e = readTarGz(pkg);
    const m = JSON.parse(defined(e.get('manifest.json'), 'manifest').toString()) as Record<string, unknown>;
    e.set('manifest.json', Buffer.from(JSON.stringify({ ...m, AlgType: 'not_motion' }, null, 2)));
    return writeTarGz([...e].map(([p, data]) => ({ path: p, data })));
  });
  const r = await pull('top', 'lower-a', '1.0.3');
  t.equal(r.status, 422, JSON.stringify(r.body));
  t.match(r.body.Message, /^package from lower-a refused: signature: does not match the manifest/);
  t.notOk(await atTop('1.0.3'), 'not in the top\'s repository');
  t.notOk(existsSync(fileAt('top', '1.0.3')), 'nothing written');

  await servedAtLowerA(t, '1.0.4', (pkg) => {
    const e = readTarGz(pkg);
    const [name, wasm] = defined([...e].find(([p]) => p.endsWith('.wasm')), 'wasm');
    const evil = Buffer.from(wasm);
    evil.writeUInt8(evil.readUInt8(evil.length - 1) ^ 0xff, evil.length - 1);
    e.set(name, evil);
    return writeTarGz([...e].map(([p, data]) => ({ path: p, data })));
  });
  const f = await pull('top', 'lower-a', '1.0.4');
  t.equal(f.status, 422, JSON.stringify(f.body));
  t.match(f.body.Message, /does not match its sha256/);
  t.notOk(await atTop('1.0.4'));
});

t.test('EC7: a model signed with a key the top does not trust (lower-b\'s trained-models key) is refused, naming the key; by pull and by push', async (t) => {
  const b = key('lower-b');
  t.equal((await publishTo(url('lower-b'), versionOf('motion_detection-1.0.0', '2.0.0', b.privatePem), x.c.token)).status, 200, 'lower-b trusts its own trained-models key');
  const r = await pull('top', 'lower-b', '2.0.0');
  t.equal(r.status, 422, JSON.stringify(r.body));
  t.match(r.body.Message, new RegExp(`^package from lower-b refused: signature: key ${b.keyId} is not trusted by this repository`));
  t.ok(Buffer.byteLength(defined(r.body.Message, 'Message')) <= 128, 'within table 18\'s 128 bytes');
  const p = await transfer(x.c.client, url('lower-b'), { AlgID: 2006, AlgVersion: '2.0.0', Peer: 'top', Direction: 'push' });
  t.equal(p.status, 422, `the top refused the push: ${JSON.stringify(p.body)}`);
  t.match(p.body.Message, /^Peer: top refused the push: package from lower-b refused: signature: key/);
  t.notOk(await atTop('2.0.0'), 'not stored at the top');
});

t.test('EC7: a peer serving another version than the one asked for is refused', async (t) => {
  const other = versionOf('motion_detection-1.0.0', '1.0.5', key('lower-a').privatePem);
  await servedAtLowerA(t, '1.0.6', () => other);
  const r = await pull('top', 'lower-a', '1.0.6');
  t.equal(r.status, 422, JSON.stringify(r.body));
  t.match(r.body.Message, /manifest: AlgID 2006 1\.0\.5, not the AlgID 2006 1\.0\.6 asked for/);
  t.notOk(await atTop('1.0.5'));
  t.notOk(await atTop('1.0.6'));
});

t.test('EC7: an oversized package is refused unstored (by its Content-Length, or where the stream passes the bound); the receiver lives on', async (t) => {
  await servedAtLowerA(t, '1.0.7', () => Buffer.alloc(TRANSFER_MAX_BYTES + 1, 7));
  const r = await pull('top', 'lower-a', '1.0.7');
  t.equal(r.status, 413, JSON.stringify(r.body));
  t.match(r.body.Message, new RegExp(`^package from lower-a exceeds ${TRANSFER_MAX_BYTES} bytes`));
  t.notOk(await atTop('1.0.7'));
  t.equal((await x.c.client.send('GET', `${url('top')}/System/Time`)).status, 200, 'the top still answers');
});

t.test('EC7: a version the receiver holds is not replaced by other bytes under the same AlgVersion', async (t) => {
  const a = key('lower-a');
  t.equal((await publishTo(url('lower-a'), versionOf('motion_detection-1.0.0', '3.0.0', a.privatePem), x.c.token)).status, 200);
  t.equal((await pull('top', 'lower-a', '3.0.0')).status, 200, 'the top holds 3.0.0 from lower-a');
  const held = defined(await atTop('3.0.0'), '3.0.0 at the top');
  // lower-b holds another 3.0.0 (other code under the same version, signed by a key the top trusts).
  const other = versionOf('motion_detection-1.0.0', '3.0.0', a.privatePem);
  const v = verifyPackage(other, new TrustStore(), { devMode: true });
  const { files: _f, ...rest } = v.manifest;
  const changed = buildPackage({ ...rest, Description: `${rest.Description ?? ''} (changed)` }, v.files, a.privatePem);
  t.equal((await publishTo(url('lower-b'), changed, x.c.token)).status, 200);
  const r = await pull('top', 'lower-b', '3.0.0');
  t.equal(r.status, 409, JSON.stringify(r.body));
  t.match(r.body.Message, /^AlgVersion: AlgID 2006 3\.0\.0 is already here with other contents/);
  t.match(await atTop('3.0.0'), { TransferredFrom: 'lower-a', size: held.size }, 'the held version is untouched');
});

t.test('EC7: only the node or a publisher may transfer; pushing a version not held is refused', async (t) => {
  const anon = await request(`${url('top')}/System/AlgorithmRepository/Transfer`, { method: 'POST', body: JSON.stringify({ AlgID: 2006, AlgVersion: '1.0.0', Peer: 'lower-a', Direction: 'pull' }), headers: { 'content-type': 'application/json' } });
  t.equal(anon.statusCode, 401);
  await anon.body.dump();
  const r = await transfer(x.c.client, url('top'), { AlgID: 2006, AlgVersion: '7.7.7', Peer: 'lower-a', Direction: 'push' });
  t.match(r, { status: 404, body: { Message: /^AlgVersion: no AlgID 2006 7\.7\.7 in this repository to push/ } });
});

t.test('EC7: generated malformed Transfer bodies get 400 naming the field and the rule, within 128 bytes', async (t) => {
  const auth = { authorization: `Bearer ${x.c.token}`, 'content-type': 'application/json' };
  const cases = fc.sample(fc.tuple(arbitraryOf(TransferRequest), fc.nat(), fc.constantFrom('type', 'missing', 'long', 'range')), { numRuns: 80, seed: FC_SEED });
  const failures: string[] = [];
  let sent = 0;
  for (const [v, pick, how] of cases) {
    const sites = sitesOf(TransferRequest, v).filter((s) => (how === 'missing' ? s.required : how === 'long' ? typeof s.schema.maxBytes === 'number' : how === 'range' ? outOfRangeFor(s.schema) !== undefined : true));
    if (!sites.length) continue;
    const site = sites[pick % sites.length]!;
    const repl = how === 'type' ? wrongTypeFor(site.schema) : how === 'missing' ? DELETE : how === 'range' ? outOfRangeFor(site.schema) : oneByteTooLong(site.schema.maxBytes as number, pick % 2 === 0);
    const text = JSON.stringify(withField(v, site.path, repl));
    const r = await request(`${url('top')}/System/AlgorithmRepository/Transfer`, { method: 'POST', body: text, headers: auth });
    const j = await r.body.json() as { StatusCode?: string; Message?: string };
    sent++;
    const field = renderPath(site.path);
    if (r.statusCode !== 400 || j.StatusCode !== '1' || !j.Message?.startsWith(`${field}:`) || Buffer.byteLength(j.Message) > 128) failures.push(`${how} ${field}: ${text.slice(0, 80)} → ${r.statusCode} ${JSON.stringify(j).slice(0, 160)} (seed ${FC_SEED})`);
  }
  t.ok(sent >= 50, `${sent} malformed bodies sent`);
  t.strictSame(failures.slice(0, 10), [], 'each refused with 400, its Message starting with the field');
  const big = await request(`${url('top')}/System/AlgorithmRepository/Transfer`, { method: 'POST', body: JSON.stringify({ AlgID: 2006, AlgVersion: '1.0.0', Peer: 'lower-a', Direction: 'pull', Pad: 'x'.repeat(8192) }), headers: auth });
  t.equal(big.statusCode, 413, 'a body past 4 KiB is refused unread');
  await big.body.dump();
  t.strictSame(seen, [], 'still nobody else contacted');
});

/** Registers `id` at the top as a device of ProductType `product` (Digest with the node token); its session token. */
async function sessionAtTop(id: string, product: string, commandUrl = 'http://127.0.0.1:9'): Promise<string> {
  const { RetinaClient } = await import('../../src/net/client.ts');
  const c = new RetinaClient({ senderId: id });
  try {
    const r = await c.sendDigest(`${url('top')}/System/Register`, { RegisterObject: { DeviceID: id, DeviceType: '1', ProductType: product, CommandURL: commandUrl } }, id, x.c.token);
    return defined((r.body as { SessionToken?: string }).SessionToken, `session of ${id}: ${JSON.stringify(r.body)}`);
  } finally {
    await c.close();
  }
}
const upload = async (bearer: string, pkg: Buffer, q = 'AlgID=2006&AlgVersion=4.0.0') => {
  const r = await request(`${url('top')}/System/AlgorithmRepository/Transfer/Upload?${q}`, { method: 'POST', body: pkg, headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/octet-stream' } });
  return { status: r.statusCode, body: await r.body.json() as { StatusCode?: string; Message?: string; Peer?: string } };
};

t.test('EC7: a push up (Transfer/Upload) is taken only from a lower scheduler\'s session, with the receiver\'s checks', async (t) => {
  const good = versionOf('motion_detection-1.0.0', '4.0.0', key('lower-a').privatePem);
  t.match(await upload(x.c.token, good), { status: 403, body: { Message: /^Authorization: only a lower scheduler registered here/ } }, 'the node token names nobody: refused');
  t.match(await upload(await sessionAtTop('fake-exec', 'retinad-executor'), good), { status: 403 }, 'an executor\'s session: refused');
  t.notOk(await atTop('4.0.0'));

  const lower = await sessionAtTop('fake-lower', 'retinad-scheduler');
  t.match(await upload(lower, versionOf('motion_detection-1.0.0', '4.0.0', key('lower-b').privatePem)), { status: 422, body: { Message: /signature: key [0-9a-f]{16} is not trusted by this repository/ } }, 'an untrusted key: refused');
  const tampered = (() => { const e = readTarGz(good); const m = JSON.parse(defined(e.get('manifest.json'), 'manifest').toString()) as Record<string, unknown>; e.set('manifest.json', Buffer.from(JSON.stringify({ ...m, AlgType: 'x' }, null, 2))); return writeTarGz([...e].map(([p, data]) => ({ path: p, data }))); })();
  t.match(await upload(lower, tampered), { status: 422, body: { Message: /signature: does not match the manifest/ } }, 'tampered: refused');
  t.match(await upload(lower, good, 'AlgID=2006&AlgVersion=4.0.1'), { status: 422, body: { Message: /not the AlgID 2006 4\.0\.1 asked for/ } }, 'another version than named: refused');
  t.match(await upload(lower, good, 'AlgID=2006&AlgVersion=..%2F..%2Fx'), { status: 400, body: { Message: /^AlgVersion: / } }, 'a path as AlgVersion: refused');
  // Refused on its Content-Length: the 413 may come, or the socket close, before the sender has written it all.
  const big = await upload(lower, Buffer.alloc(TRANSFER_MAX_BYTES + 1, 1)).catch((err: { code?: string }) => ({ status: err.code ?? 'error', body: {} }));
  t.ok(big.status === 413 || ['EPIPE', 'ECONNRESET', 'UND_ERR_SOCKET'].includes(String(big.status)), `oversized: refused unread (${big.status})`);
  t.equal((await x.c.client.send('GET', `${url('top')}/System/Time`)).status, 200, 'the top still answers');
  t.notOk(await atTop('4.0.0'), 'none of it stored');

  const ok = await upload(lower, good);
  t.match(ok, { status: 200, body: { StatusCode: '0', Peer: 'fake-lower' } }, 'a lower scheduler\'s session uploads');
  t.equal((await atTop('4.0.0'))?.TransferredFrom, 'fake-lower', 'provenance is the session\'s DeviceID, not a claim in the request');
  t.strictSame(seen, [], 'the attacker\'s server was never contacted');
});

t.test('EC7: a registered lower scheduler streaming a package past the bound (no Content-Length) is cut off there', async (t) => {
  const MAX = 80 << 20;
  let sent = 0;
  let auth: string | undefined;
  const drip = http.createServer((req, res) => {
    if (!req.url?.startsWith('/System/AlgorithmRepository/')) { req.resume(); res.setHeader('content-type', 'application/json'); res.end('{"StatusCode":"0"}'); return; }
    auth = req.headers.authorization;
    res.writeHead(200, { 'content-type': 'application/octet-stream' }); // chunked: no Content-Length to refuse by
    const chunk = Buffer.alloc(1 << 20, 3);
    let closed = false;
    res.on('close', () => { closed = true; });
    const pump = (): void => {
      while (!closed && sent < MAX) {
        sent += chunk.length;
        if (!res.write(chunk)) { res.once('drain', pump); return; }
      }
      if (!closed) res.end();
    };
    pump();
  });
  await new Promise<void>((r) => drip.listen(0, '127.0.0.1', r));
  t.teardown(() => { drip.closeAllConnections(); drip.close(); });
  await sessionAtTop('fake-peer', 'retinad-scheduler', `http://127.0.0.1:${(drip.address() as { port: number }).port}`);
  const r = await pull('top', 'fake-peer', '5.0.0');
  t.equal(r.status, 413, JSON.stringify(r.body));
  t.match(r.body.Message, new RegExp(`^package from fake-peer exceeds ${TRANSFER_MAX_BYTES} bytes`));
  t.ok(sent < MAX, `the top stopped reading near the bound (${sent >> 20} MiB offered of ${MAX >> 20})`);
  t.equal(auth, `Bearer ${x.c.token}`, 'a registered lower scheduler is a configured peer: the node token goes there (the positive control)');
  t.notOk(await atTop('5.0.0'));
});
