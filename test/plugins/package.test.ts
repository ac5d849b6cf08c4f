/**
 * SM3 / issue 4 §1: a package is installed only when whole, untampered and signed by a trusted
 * publisher. Hand-made malformed packages (zip-slip, symlinks, missing or extra files, wrong
 * hashes) and generated corruptions are each refused with a clear error, never a crash.
 */
import t from 'tap';
import fc from 'fast-check';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { verifyPackage, writeTarGz, readTarGz, PackageError } from '../../src/plugins/package-file.ts';
import { TrustStore } from '../../src/plugins/keys.ts';
import { fixturePackage, testKeys, otherKeys } from '../helpers/plugins.ts';
import { FC_SEED } from '../helpers/seed.ts';

const trust = new TrustStore();
trust.add(testKeys.publicPem);
const good = fixturePackage('echo');

t.test('a signed package from a trusted key verifies', async (t) => {
  const v = verifyPackage(good, trust);
  t.equal(v.manifest.AlgType, 'echo');
  t.equal(v.signedBy, testKeys.keyId);
  t.equal(v.files.size, 1);
});

t.test('unsigned, unknown-key and tampered packages are refused (dev mode admits only the first two)', async (t) => {
  const unsigned = fixturePackage('echo', { unsigned: true });
  t.throws(() => verifyPackage(unsigned, trust), /package is unsigned \(allowed only in dev mode\)/);
  t.equal(verifyPackage(unsigned, trust, { devMode: true }).signedBy, null, 'dev mode takes it, marked unsigned');
  const foreign = fixturePackage('echo', { key: otherKeys.privatePem });
  t.throws(() => verifyPackage(foreign, trust), new RegExp(`key ${otherKeys.keyId} is not among this executor's trusted publisher keys`));
  // Tamper: change the manifest after signing.
  const entries = readTarGz(good);
  const m = JSON.parse(entries.get('manifest.json')!.toString());
  m.limits.callDeadlineMs = 600000;
  const tampered = writeTarGz([{ path: 'manifest.json', data: Buffer.from(JSON.stringify(m, null, 2)) }, ...[...entries].filter(([p]) => p !== 'manifest.json').map(([p, d]) => ({ path: p, data: d }))]);
  t.throws(() => verifyPackage(tampered, trust), /signature: does not match the manifest/);
  t.throws(() => verifyPackage(tampered, trust, { devMode: true }), /does not match/, 'a bad signature is refused even in dev mode');
});

t.test('SM3: malformed packages: zip-slip, absolute paths, links, missing, extra and altered files', async (t) => {
  const entries = readTarGz(good);
  const base = [...entries].map(([p, d]) => ({ path: p, data: d }));
  const cases: Array<[string, Buffer, RegExp]> = [
    ['zip-slip', writeTarGz([...base, { path: '../../evil.sh', data: Buffer.from('rm -rf /') }]), /unsafe path/],
    ['zip-slip in files/', writeTarGz([...base, { path: 'files/../../x', data: Buffer.from('x') }]), /unsafe path/],
    ['absolute path', writeTarGz([...base, { path: '/etc/cron.d/x', data: Buffer.from('x') }]), /unsafe path/],
    ['missing wasm', writeTarGz(base.filter((e) => !e.path.endsWith('.wasm'))), /files\/plugin\.wasm is listed in the manifest but missing/],
    ['extra file', writeTarGz([...base, { path: 'files/extra.bin', data: Buffer.from('x') }]), /files\/extra\.bin is in the package but not in the manifest/],
    ['wrong hash', writeTarGz(base.map((e) => (e.path.endsWith('.wasm') ? { ...e, data: Buffer.concat([e.data, Buffer.from([0])]) } : e))), /does not match its sha256/],
    ['no manifest', writeTarGz(base.filter((e) => e.path !== 'manifest.json')), /no manifest\.json/],
    ['not gzip', Buffer.from('PK\x03\x04 this is a zip'), /not a gzip'd tar/],
    ['duplicate entry', writeTarGz([...base, ...base.slice(-1)]), /appears twice/],
  ];
  // A symbolic link entry, written by hand.
  const link = Buffer.alloc(512);
  new Header({ path: 'files/link', type: 'SymbolicLink', linkpath: '/etc/passwd', size: 0, mode: 0o777, mtime: new Date(0) }).encode(link, 0);
  const raw = gunzipSync(writeTarGz(base));
  cases.push(['symlink', gzipSync(Buffer.concat([raw.subarray(0, raw.length - 1024), link, Buffer.alloc(1024)])), /SymbolicLink entries are not allowed/]);
  for (const [name, pkg, re] of cases) {
    t.throws(() => verifyPackage(pkg, trust), re, name);
  }
});

t.test('generated corruptions of a valid package are refused with PackageError, or accepted only with the original content', async (t) => {
  const raw = gunzipSync(good);
  const original = verifyPackage(good, trust);
  let refused = 0;
  let accepted = 0;
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat({ max: raw.length - 1 }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }), fc.boolean(), (flips, truncate) => {
    const b = Buffer.from(raw);
    for (const [i, x] of flips) b[i] = b[i]! ^ x; // i ≤ raw.length - 1 = b.length - 1
    const pkg = gzipSync(truncate ? b.subarray(0, Math.floor(b.length / 2)) : b);
    let v: ReturnType<typeof verifyPackage>;
    try {
      v = verifyPackage(pkg, trust);
    } catch (err) {
      if (!(err instanceof PackageError)) throw new Error(`not a PackageError: ${(err as Error).stack}`);
      refused++;
      return;
    }
    // Accepted: the flips fell where nothing is read (tar padding, unused header bytes). Then
    // what was accepted must be exactly what was signed: the same manifest and every file's bytes.
    accepted++;
    if (JSON.stringify(v.manifest) !== JSON.stringify(original.manifest)) throw new Error(`accepted with another manifest (flips ${JSON.stringify(flips)})`);
    if (v.signedBy !== original.signedBy) throw new Error('accepted with another signer');
    if (v.files.size !== original.files.size) throw new Error(`accepted with ${v.files.size} files, not ${original.files.size}`);
    for (const [p, d] of original.files) if (!v.files.get(p)?.equals(d)) throw new Error(`accepted with other bytes in ${p} (flips ${JSON.stringify(flips)})`);
  }), { numRuns: 300, seed: FC_SEED });
  t.equal(refused + accepted, 300);
  t.pass(`${refused}/300 corrupted packages refused; the ${accepted} accepted ones (corrupted only where nothing is read) had the original manifest and files (seed ${FC_SEED})`);
});
