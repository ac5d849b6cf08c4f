/**
 * The `.rpk` algorithm package: a gzip'd tar holding `manifest.json`, `manifest.sig` (ed25519
 * over the manifest's exact bytes) and `files/…`. Reading never extracts blindly: entries are
 * parsed in memory, every path is checked (no absolute paths, no `..`, regular files only),
 * sizes are capped, every file's SHA-256 must match the manifest, and the signature must come
 * from a trusted key (unless the executor runs in explicit dev mode).
 */
import { createHash } from 'node:crypto';
import { constants as zlibConstants, gunzipSync, gzipSync } from 'node:zlib';
import { Header, Parser } from 'tar';
import { parse } from '../protocol/index.ts';
import { PluginManifest, HOST_ABI_VERSION } from './manifest.ts';
import { signBytes, type TrustStore } from './keys.ts';

/** A package refused for a stated reason. */
export class PackageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PackageError';
  }
}

export interface PackageLimits {
  maxPackageBytes: number;
  maxFileBytes: number;
  maxFiles: number;
}

export const DEFAULT_LIMITS: PackageLimits = { maxPackageBytes: 512 << 20, maxFileBytes: 256 << 20, maxFiles: 300 };

export interface VerifiedPackage {
  manifest: PluginManifest;
  manifestBytes: Buffer;
  /** files/… → bytes */
  files: Map<string, Buffer>;
  /** Key id that signed it, or null for an unsigned package accepted in dev mode. */
  signedBy: string | null;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Writes a tar (ustar) of `entries` in the given order, gzip'd. Deterministic: fixed mtime/mode. */
export function writeTarGz(entries: Array<{ path: string; data: Buffer }>): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const h = new Header({ path: e.path, size: e.data.length, type: 'File', mode: 0o644, mtime: new Date(0), uid: 0, gid: 0, uname: '', gname: '' });
    const hb = Buffer.alloc(512);
    h.encode(hb, 0);
    blocks.push(hb, e.data, Buffer.alloc((512 - (e.data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks), { level: 9 });
}

/** Most bytes a package of `compressed` bytes may inflate to: 8× its size, at least 64 MiB, at most twice the package limit. */
export function expansionLimit(compressed: number, limits: PackageLimits = DEFAULT_LIMITS): number {
  return Math.min(limits.maxPackageBytes * 2, Math.max(64 << 20, compressed * 8));
}

/** The most the head of a package (manifest.json, manifest.sig) may inflate to before it is complete. */
const HEAD_MAX_BYTES = 4 << 20;

const tarString = (b: Buffer, at: number, len: number): string => { const s = b.subarray(at, at + len); const z = s.indexOf(0); return (z < 0 ? s : s.subarray(0, z)).toString('utf8'); };

/**
 * The package's first entries — manifest.json and, when signed, manifest.sig — read by inflating
 * only the start of the package (a growing prefix, flushed, never past 4 MiB of output), so the
 * signature can be checked before anything else is expanded. Null entries until complete.
 */
export function readHead(pkg: Buffer): { manifestBytes: Buffer; sigBytes: Buffer | null } {
  for (let n = 4096; ; n *= 2) {
    const len = Math.min(n, pkg.length);
    let raw: Buffer;
    try {
      raw = gunzipSync(pkg.subarray(0, len), { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: HEAD_MAX_BYTES });
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw new PackageError(`manifest.json and manifest.sig do not come first within ${HEAD_MAX_BYTES} bytes of the package: refused before expanding it`);
      throw new PackageError(`package is not a gzip'd tar: ${(err as Error).message}`);
    }
    const entries: Array<{ name: string; data: Buffer | null }> = [];
    let at = 0;
    while (entries.length < 2 && at + 512 <= raw.length) {
      const name = tarString(raw, at, 100);
      if (!name) break;
      const size = parseInt(tarString(raw, at + 124, 12).trim() || '0', 8);
      const end = at + 512 + size;
      entries.push({ name: name.replace(/^\.\//, ''), data: end <= raw.length ? raw.subarray(at + 512, end) : null });
      at = 512 + at + Math.ceil(size / 512) * 512;
    }
    const [first, second] = entries;
    if (first && first.name !== 'manifest.json') throw new PackageError(`package has no manifest.json as its first entry (found "${first.name.slice(0, 100)}")`);
    if (first?.data && second && (second.name !== 'manifest.sig' || second.data)) {
      return { manifestBytes: Buffer.from(first.data), sigBytes: second.name === 'manifest.sig' && second.data ? Buffer.from(second.data) : null };
    }
    if (first?.data && !second && len === pkg.length) return { manifestBytes: Buffer.from(first.data), sigBytes: null };
    if (len === pkg.length) throw new PackageError('package has no complete manifest.json at its start');
  }
}

/** Bytes of the tar a manifest describes: its files, the manifest and signature, headers, padding and the end blocks. */
function tarBytesFor(manifestFiles: ReadonlyArray<{ size: number }>, headBytes: number): number {
  const entry = (size: number) => 512 + Math.ceil(size / 512) * 512;
  return manifestFiles.reduce((n, f) => n + entry(f.size), 0) + entry(headBytes) * 2 + 1024 + 512;
}

/** Reads tar.gz entries into memory with limits; rejects unsafe paths and non-file entries. */
export function readTarGz(pkg: Buffer, limits: PackageLimits = DEFAULT_LIMITS, maxOutput?: number): Map<string, Buffer> {
  if (pkg.length > limits.maxPackageBytes) throw new PackageError(`package is ${pkg.length} bytes; the limit is ${limits.maxPackageBytes}`);
  let raw: Buffer;
  const bound = Math.min(maxOutput ?? Number.POSITIVE_INFINITY, expansionLimit(pkg.length, limits));
  try {
    // Expansion is bounded: by what the (signed) manifest says the files weigh when known, and
    // always by the compressed size (models barely compress; far beyond it is a bomb).
    raw = gunzipSync(pkg, { maxOutputLength: bound });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new PackageError(maxOutput !== undefined && bound === maxOutput
        ? `package inflates past ${bound} bytes, twice what its manifest accounts for: refused`
        : `package inflates past ${bound} bytes (8× its ${pkg.length}, at least 64 MiB): refused as a decompression bomb`);
    }
    throw new PackageError(`package is not a gzip'd tar: ${(err as Error).message}`);
  }
  const out = new Map<string, Buffer>();
  const problems: string[] = [];
  const parser = new Parser({ strict: true });
  parser.on('entry', (entry) => {
    const p = entry.path;
    const bad = p.startsWith('/') || p.includes('\\') || p.split('/').some((s: string) => s === '..') || /^[a-zA-Z]:/.test(p);
    if (bad) problems.push(`entry "${p}": unsafe path (absolute or with ..)`);
    else if (entry.type === 'Directory') { /* directories are implied */ }
    else if (entry.type !== 'File' && entry.type !== 'OldFile') problems.push(`entry "${p}": ${entry.type} entries are not allowed (regular files only)`);
    else if ((entry.size ?? 0) > limits.maxFileBytes) problems.push(`entry "${p}": ${entry.size} bytes exceeds ${limits.maxFileBytes}`);
    else if (out.has(p)) problems.push(`entry "${p}": appears twice`);
    else if (out.size >= limits.maxFiles) problems.push(`more than ${limits.maxFiles} entries`);
    if (problems.length) { entry.resume(); return; }
    const chunks: Buffer[] = [];
    entry.on('data', (c: Buffer) => chunks.push(c));
    entry.on('end', () => out.set(p.replace(/^\.\//, ''), Buffer.concat(chunks)));
  });
  parser.on('warn', (code: string, msg: string) => problems.push(`tar: ${code} ${msg}`));
  parser.on('error', (err: Error) => problems.push(`tar: ${err.message}`));
  try {
    parser.end(raw);
  } catch (err) {
    problems.push(`tar: ${(err as Error).message}`);
  }
  if (problems.length) throw new PackageError(`malformed package: ${problems.slice(0, 3).join('; ')}`);
  return out;
}

/** Builds a package from a manifest (whose `files` are filled in here) and its files, signing it when a key is given. */
export function buildPackage(manifest: Omit<PluginManifest, 'files'>, files: Map<string, Buffer>, privatePem?: string): Buffer {
  const full: PluginManifest = {
    ...manifest,
    files: [...files].map(([p, b]) => ({ path: p, sha256: sha256(b), size: b.length })).sort((a, b) => a.path.localeCompare(b.path)),
  };
  const check = parse(PluginManifest, full);
  if (!check.ok) throw new PackageError(`manifest: ${check.message}`);
  const manifestBytes = Buffer.from(JSON.stringify(full, null, 2));
  const entries: Array<{ path: string; data: Buffer }> = [{ path: 'manifest.json', data: manifestBytes }];
  if (privatePem) entries.push({ path: 'manifest.sig', data: Buffer.from(JSON.stringify({ alg: 'ed25519', ...signBytes(manifestBytes, privatePem) })) });
  for (const [p, b] of [...files].sort(([a], [b]) => a.localeCompare(b))) entries.push({ path: p, data: b });
  return writeTarGz(entries);
}

/** Re-signs an existing package's manifest with another key (the `sign` step). */
export function signPackage(pkg: Buffer, privatePem: string): Buffer {
  const entries = readTarGz(pkg);
  const manifestBytes = entries.get('manifest.json');
  if (!manifestBytes) throw new PackageError('package has no manifest.json');
  const list: Array<{ path: string; data: Buffer }> = [{ path: 'manifest.json', data: manifestBytes }, { path: 'manifest.sig', data: Buffer.from(JSON.stringify({ alg: 'ed25519', ...signBytes(manifestBytes, privatePem) })) }];
  for (const [p, b] of entries) if (p.startsWith('files/')) list.push({ path: p, data: b });
  return writeTarGz(list);
}

/** Reads and verifies a package completely. Throws PackageError naming the first problem. */
export function verifyPackage(pkg: Buffer, trust: TrustStore, opts: { devMode?: boolean; limits?: PackageLimits } = {}): VerifiedPackage {
  if (pkg.length > (opts.limits ?? DEFAULT_LIMITS).maxPackageBytes) throw new PackageError(`package is ${pkg.length} bytes; the limit is ${(opts.limits ?? DEFAULT_LIMITS).maxPackageBytes}`);
  // The head first: the signature is checked before the rest is expanded (issue 10).
  const { manifestBytes, sigBytes } = readHead(pkg);
  let json: unknown;
  try {
    json = JSON.parse(manifestBytes.toString('utf8'));
  } catch (err) {
    throw new PackageError(`manifest.json is not JSON: ${(err as Error).message}`);
  }
  const m = parse(PluginManifest, json);
  if (!m.ok) throw new PackageError(`manifest: ${m.message}`);
  const manifest = m.value;
  if (manifest.abi !== HOST_ABI_VERSION) throw new PackageError(`manifest.abi: plugin targets ABI ${manifest.abi}; this host speaks ABI ${HOST_ABI_VERSION}`);

  // Signature over the exact manifest bytes; the manifest pins every file by hash.
  let signedBy: string | null = null;
  if (sigBytes) {
    let sig: { alg?: string; keyId?: string; signature?: string };
    try {
      sig = JSON.parse(sigBytes.toString('utf8'));
    } catch {
      throw new PackageError('manifest.sig is not JSON');
    }
    if (sig.alg !== 'ed25519' || typeof sig.keyId !== 'string' || typeof sig.signature !== 'string') throw new PackageError('manifest.sig: needs alg "ed25519", keyId and signature');
    const v = trust.verify(sig.keyId, manifestBytes, sig.signature);
    if (v === 'unknown-key' && !opts.devMode) throw new PackageError(`signature: key ${sig.keyId} is not among this executor's trusted publisher keys`);
    if (v === 'bad-signature') throw new PackageError(`signature: does not match the manifest (tampered, or signed with another key than ${sig.keyId})`);
    if (v === 'ok') signedBy = sig.keyId;
  } else if (!opts.devMode) {
    throw new PackageError('signature: package is unsigned (allowed only in dev mode)');
  }

  // Only now the whole package, and no more than twice what the signed manifest accounts for
  // (room for a malformed package to be refused by name — a duplicate, an extra file — rather
  // than by size).
  const entries = readTarGz(pkg, opts.limits, 2 * tarBytesFor(manifest.files, Math.max(manifestBytes.length, sigBytes?.length ?? 0)));
  if (!entries.get('manifest.json')?.equals(manifestBytes)) throw new PackageError('manifest.json: appears twice, or differs from the one signed');

  const files = new Map<string, Buffer>();
  const listed = new Set(manifest.files.map((f) => f.path));
  for (const f of manifest.files) {
    const b = entries.get(f.path);
    if (!b) throw new PackageError(`files: ${f.path} is listed in the manifest but missing from the package`);
    if (b.length !== f.size || sha256(b) !== f.sha256) throw new PackageError(`files: ${f.path} does not match its sha256 in the manifest`);
    files.set(f.path, b);
  }
  for (const p of entries.keys()) {
    if (p !== 'manifest.json' && p !== 'manifest.sig' && !listed.has(p)) throw new PackageError(`files: ${p} is in the package but not in the manifest`);
  }
  if (!listed.has(manifest.entry.wasm)) throw new PackageError(`entry.wasm: ${manifest.entry.wasm} is not among the manifest's files`);
  for (const md of manifest.models ?? []) {
    const f = manifest.files.find((x) => x.path === md.file);
    if (!f) throw new PackageError(`models: ${md.file} (ModelID ${md.ModelID}) is not among the manifest's files`);
    if (f.sha256 !== md.sha256) throw new PackageError(`models: ${md.file} sha256 differs from its files entry`);
  }
  return { manifest, manifestBytes, files, signedBy };
}
