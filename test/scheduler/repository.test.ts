/**
 * EC7: AlgorithmRepository.receive, the store of a transferred version — verified against the
 * repository's own keys even in dev mode, only the version asked for, a held version kept when
 * the same and refused when different, the peer it came from remembered across a restart.
 */
import t from 'tap';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { AlgorithmRepository, VersionConflict } from '../../src/scheduler/repository.ts';
import { TrustStore, generateKeys } from '../../src/plugins/keys.ts';
import { PackageError, buildPackage, verifyPackage } from '../../src/plugins/package-file.ts';
import { buildExamples, example } from '../helpers/examples.ts';

const root = path.resolve(import.meta.dirname, '..', '..');

t.test('EC7: receive verifies, checks the version, keeps provenance, never changes a version', async (t) => {
  t.equal(buildExamples(), 0);
  const dir = t.testdir({});
  const k = generateKeys();
  const trust = () => { const s = new TrustStore(); s.add(readFileSync(path.join(root, 'plugins-sdk', 'examples', 'build', 'keys', 'publisher.pub'), 'utf8')); s.add(k.publicPem); return s; };
  const original = readFileSync(example('motion_detection-1.0.0'));
  const v = verifyPackage(original, new TrustStore(), { devMode: true });
  const { files: _f, ...manifest } = v.manifest;
  const pack = (over: Partial<typeof manifest>, key?: string) => buildPackage({ ...manifest, ...over }, v.files, key);

  const repo = new AlgorithmRepository(dir, trust(), true); // dev mode: publish would take unsigned packages
  t.throws(() => repo.receive(pack({}), { AlgID: 2006, AlgVersion: '1.0.0' }, 'top', 1), /signature: package is unsigned/, 'a transfer never takes an unsigned package');
  t.throws(() => repo.receive(pack({}, generateKeys().privatePem), { AlgID: 2006, AlgVersion: '1.0.0' }, 'top', 1), /is not among/, 'nor one signed by an unknown key');
  t.throws(() => repo.receive(original, { AlgID: 2006, AlgVersion: '1.0.1' }, 'top', 1), PackageError, 'nor another version than asked for');
  t.equal(repo.list().length, 0, 'nothing stored');

  const got = repo.receive(original, { AlgID: 2006, AlgVersion: '1.0.0' }, 'top', 1234);
  t.match(got, { already: false, entry: { AlgID: 2006, AlgVersion: '1.0.0', TransferredFrom: 'top', transferredAt: 1234 } });
  t.match(repo.receive(original, { AlgID: 2006, AlgVersion: '1.0.0' }, 'lower-a', 2), { already: true, entry: { TransferredFrom: 'top' } }, 'the same version again: kept as it was');
  // Same version signed again by another trusted key: the same manifest, so the same version.
  t.match(repo.receive(pack({}, k.privatePem), { AlgID: 2006, AlgVersion: '1.0.0' }, 'lower-a', 3), { already: true });
  t.throws(() => repo.receive(pack({ Description: 'other code' }, k.privatePem), { AlgID: 2006, AlgVersion: '1.0.0' }, 'lower-a', 4), VersionConflict, 'other contents under a held version');

  const reopened = new AlgorithmRepository(dir, trust());
  t.match(reopened.entry(2006, '1.0.0'), { TransferredFrom: 'top', transferredAt: 1234 }, 'provenance survives a restart');
  t.ok(reopened.read(2006, '1.0.0')?.equals(original), 'the bytes as received');
});
