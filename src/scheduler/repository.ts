/**
 * The scheduler's algorithm model repository (SM3, EC7): publishers upload signed packages,
 * the scheduler verifies them against its own trusted keys and serves them to executors by
 * AlgFileURL. Packages are stored as <data-dir>/repository/<AlgID>/<AlgVersion>.rpk.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { verifyPackage, PackageError } from '../plugins/package-file.ts';
import type { TrustStore } from '../plugins/keys.ts';
import type { PluginManifest } from '../plugins/manifest.ts';
import { compareVersions } from '../protocol/index.ts';

export interface RepoEntry {
  AlgID: number;
  AlgType: string;
  AlgVersion: string;
  size: number;
  signedBy: string | null;
  /** The package's models (table 20 ModelList of the dispatches that install it). */
  models?: Array<{ ModelID: number; ModelVersion: string }>;
  /** The training task whose result this version is (DC3): a task publishes once, across restarts. */
  trainedBy?: string;
  /** EC7: the configured peer (DeviceID) this version was transferred from, and when (ms). */
  TransferredFrom?: string;
  transferredAt?: number;
}

/** A transferred version this repository already holds with other contents (a version never changes). */
export class VersionConflict extends PackageError {
  constructor(message: string) {
    super(message);
    this.name = 'VersionConflict';
  }
}

export class AlgorithmRepository {
  private readonly dir: string;
  private index: RepoEntry[] = [];

  constructor(dataDir: string, private readonly trust: TrustStore, private readonly devMode = false) {
    this.dir = path.join(dataDir, 'repository');
    mkdirSync(this.dir, { recursive: true });
    const f = path.join(this.dir, 'index.json');
    if (existsSync(f)) this.index = JSON.parse(readFileSync(f, 'utf8')) as RepoEntry[];
  }

  /** Verifies and stores a package; a different package under an existing version is refused. */
  publish(pkg: Buffer, meta: { trainedBy?: string } = {}): RepoEntry {
    const v = verifyPackage(pkg, this.trust, { devMode: this.devMode });
    if (this.sameAsStored(v.manifest, v.manifestBytes) === false) throw new PackageError(`AlgID ${v.manifest.AlgID} version ${v.manifest.AlgVersion} is already published with other contents; publish a new AlgVersion`);
    return this.store(pkg, v.manifest, v.signedBy, meta);
  }

  /**
   * EC7: stores a version transferred from the configured peer `from`. Always checked against
   * this repository's trusted keys — never dev mode: a transfer crosses from one trust domain
   * to another. It must be the version asked for; one already held is kept (`already`) when
   * its manifest (which pins every file by SHA-256) is the same, refused when it differs.
   */
  receive(pkg: Buffer, want: { AlgID: number; AlgVersion: string }, from: string, now: number): { entry: RepoEntry; already: boolean; signedBy: string } {
    const v = verifyPackage(pkg, this.trust, { devMode: false });
    const m = v.manifest;
    if (m.AlgID !== want.AlgID || m.AlgVersion !== want.AlgVersion) throw new PackageError(`manifest: AlgID ${m.AlgID} ${m.AlgVersion.slice(0, 19)}, not the AlgID ${want.AlgID} ${want.AlgVersion} asked for`);
    const same = this.sameAsStored(m, v.manifestBytes);
    if (same === false) throw new VersionConflict(`AlgID ${m.AlgID} ${m.AlgVersion} is already here with other contents (a version never changes)`);
    const held = this.entry(m.AlgID, m.AlgVersion);
    const signedBy = v.signedBy ?? ''; // never null here: dev mode is off
    if (same && held) return { entry: held, already: true, signedBy };
    return { entry: this.store(pkg, m, v.signedBy, { TransferredFrom: from, transferredAt: now }), already: false, signedBy };
  }

  /** Undefined when the version is not stored; else whether the stored manifest is `manifestBytes`. */
  private sameAsStored(m: PluginManifest, manifestBytes: Buffer): boolean | undefined {
    const file = this.file(m.AlgID, m.AlgVersion);
    if (!existsSync(file)) return undefined;
    return verifyPackage(readFileSync(file), this.trust, { devMode: true }).manifestBytes.equals(manifestBytes);
  }

  private store(pkg: Buffer, m: PluginManifest, signedBy: string | null, meta: Pick<RepoEntry, 'trainedBy' | 'TransferredFrom' | 'transferredAt'>): RepoEntry {
    const file = this.file(m.AlgID, m.AlgVersion);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(`${file}.tmp`, pkg);
    renameSync(`${file}.tmp`, file);
    const e: RepoEntry = { AlgID: m.AlgID, AlgType: m.AlgType, AlgVersion: m.AlgVersion, size: pkg.length, signedBy,
      ...(m.models?.length ? { models: m.models.map((x) => ({ ModelID: x.ModelID, ModelVersion: x.ModelVersion })) } : {}),
      ...(meta.trainedBy ? { trainedBy: meta.trainedBy } : {}),
      ...(meta.TransferredFrom ? { TransferredFrom: meta.TransferredFrom, transferredAt: meta.transferredAt } : {}) };
    this.index = [...this.index.filter((x) => !(x.AlgID === e.AlgID && x.AlgVersion === e.AlgVersion)), e];
    writeFileSync(path.join(this.dir, 'index.json'), JSON.stringify(this.index, null, 2));
    return e;
  }

  private file(algId: number, version: string): string {
    return path.join(this.dir, String(algId), `${version}.rpk`);
  }

  /** Whether that version is published (no file read). */
  has(algId: number, version: string): boolean {
    return this.index.some((e) => e.AlgID === algId && e.AlgVersion === version);
  }

  /** The package bytes, or undefined. */
  read(algId: number, version: string): Buffer | undefined {
    if (!this.index.some((e) => e.AlgID === algId && e.AlgVersion === version)) return undefined;
    return readFileSync(this.file(algId, version));
  }

  /** Newest published version for AlgID or AlgType. */
  newest(q: { algId?: number; algType?: string }): RepoEntry | undefined {
    return this.index
      .filter((e) => (q.algId === undefined || e.AlgID === q.algId) && (q.algType === undefined || e.AlgType.toLowerCase() === q.algType.toLowerCase()))
      .sort((a, b) => compareVersions(b.AlgVersion, a.AlgVersion))[0];
  }

  /** One published version's entry. */
  entry(algId: number, version: string): RepoEntry | undefined {
    return this.index.find((e) => e.AlgID === algId && e.AlgVersion === version);
  }

  list(): RepoEntry[] {
    return [...this.index];
  }
}
