/**
 * The executor's installed algorithm packages (SM3, ER3): verified on install, kept side by
 * side per version under <data-dir>/plugins/<AlgID>/<AlgVersion>/, trial-run before they are
 * offered, and answered as table 14 AlgInfo. A version that fails its trial is marked invalid
 * (AlgStatus 2) and the previous version stays the one new tasks get.
 *
 * Updates: a running task keeps the version it was dispatched with (TaskDispatchInfo names
 * AlgVersion); tasks dispatched by AlgType after an update get the new one.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AlgStatus, compareVersions, cutUtf8, formatRetinaDateTime, type AlgInfo, type ModelInfo } from '../protocol/index.ts';
import { verifyPackage, PackageError } from './package-file.ts';
import { inspectWasm } from './wasm-inspect.ts';
import type { PluginManifest } from './manifest.ts';
import type { TrustStore } from './keys.ts';
import type { CallInput, CallResult } from './pool.ts';
import type { LoadedPlugin } from './loaded-plugin.ts';
import type { ProviderUse } from './worker-task.ts';
import { providerLabel } from './providers.ts';

export type { LoadedPlugin } from './loaded-plugin.ts';

/** What the registry needs of the pool: one call (for the trial run), and where models run (ModelInfo). */
export interface PluginCaller {
  call(p: LoadedPlugin, c: CallInput): Promise<CallResult>;
  providers?(p: LoadedPlugin): ProviderUse[];
}

interface StateEntry {
  AlgID: number;
  AlgVersion: string;
  AlgType: string;
  status: 'valid' | 'invalid';
  installedAt: number;
  signedBy: string | null;
  error?: string;
}

export interface InstallOutcome {
  AlgID: number;
  AlgVersion: string;
  status: 'valid' | 'invalid';
  error?: string;
  /** The version new tasks now get for this AlgID. */
  active?: string;
}

/** The executor's default cap on one plugin's linear memory, MiB. */
export const DEFAULT_PLUGIN_MEMORY_MB = 1024;

export class PluginRegistry {
  private readonly root: string;
  private state: StateEntry[] = [];
  private readonly loaded = new Map<string, LoadedPlugin>();
  private installs: Promise<void> = Promise.resolve();

  /**
   * `maxMemoryMB` is the executor's own cap on a plugin's linear memory (default 1024 MiB): a
   * signed manifest may ask for up to 4 GiB, but the box decides (issue 10).
   */
  constructor(dataDir: string, private readonly trust: TrustStore, private readonly pool: PluginCaller | null, private readonly opts: { devMode?: boolean; maxMemoryMB?: number } = {}) {
    this.root = path.join(dataDir, 'plugins');
    mkdirSync(this.root, { recursive: true });
    const f = path.join(this.root, 'state.json');
    if (existsSync(f)) this.state = JSON.parse(readFileSync(f, 'utf8')) as StateEntry[];
  }

  private save(): void {
    const f = path.join(this.root, 'state.json');
    writeFileSync(`${f}.tmp`, JSON.stringify(this.state, null, 2));
    renameSync(`${f}.tmp`, f);
  }

  private dirOf(algId: number, version: string): string {
    return path.join(this.root, String(algId), version);
  }

  /**
   * Verifies, stores and trial-runs a package. Throws PackageError for a package refused
   * outright. Installs run one at a time: two of the same version must not share a directory.
   */
  install(pkg: Buffer): Promise<InstallOutcome> {
    const run = this.installs.then(() => this.installNow(pkg));
    this.installs = run.then(() => undefined, () => undefined);
    return run;
  }

  private async installNow(pkg: Buffer): Promise<InstallOutcome> {
    const v = verifyPackage(pkg, this.trust, { devMode: this.opts.devMode });
    const m = v.manifest;
    const existing = this.state.find((e) => e.AlgID === m.AlgID && e.AlgVersion === m.AlgVersion);
    const dir = this.dirOf(m.AlgID, m.AlgVersion);
    if (existing) {
      const same = existsSync(path.join(dir, 'manifest.json')) && readFileSync(path.join(dir, 'manifest.json')).equals(v.manifestBytes);
      if (!same) throw new PackageError(`AlgID ${m.AlgID} version ${m.AlgVersion} is already installed with other contents; versions are immutable — publish a new AlgVersion`);
      return { AlgID: m.AlgID, AlgVersion: m.AlgVersion, status: existing.status, error: existing.error, active: this.activeVersion(m.AlgID) };
    }
    // Write to a temporary directory, then rename: a crash never leaves half a version.
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    for (const [p, b] of v.files) {
      const target = path.join(tmp, p);
      if (!target.startsWith(tmp + path.sep)) throw new PackageError(`files: ${p} escapes the install directory`);
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, b);
    }
    writeFileSync(path.join(tmp, 'manifest.json'), v.manifestBytes);
    mkdirSync(path.dirname(dir), { recursive: true });
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    const entry: StateEntry = { AlgID: m.AlgID, AlgVersion: m.AlgVersion, AlgType: m.AlgType, status: 'valid', installedAt: Date.now(), signedBy: v.signedBy };
    try {
      await this.trial(this.load(m.AlgID, m.AlgVersion, m));
    } catch (err) {
      entry.status = 'invalid';
      entry.error = (err as Error).message.slice(0, 400);
      this.loaded.delete(`${m.AlgID}@${m.AlgVersion}`);
    }
    this.state.push(entry);
    this.save();
    return { AlgID: m.AlgID, AlgVersion: m.AlgVersion, status: entry.status, error: entry.error, active: this.activeVersion(m.AlgID) };
  }

  /** Static checks, then one real call on a blank frame within the plugin's own deadline. */
  private async trial(p: LoadedPlugin): Promise<void> {
    if (!this.pool) return;
    const bytes = (i: PluginManifest['input']) => i.width * i.height * 3 * ((i.dtype ?? 'float32') === 'float32' ? 4 : 1);
    await this.pool.call(p, { input: new ArrayBuffer(bytes(p.manifest.input)), ptsMs: 0, args: {} });
    if (p.manifest.cropStage) await this.pool.call(p, { input: new ArrayBuffer(bytes(p.manifest.cropStage.input)), ptsMs: 0, args: {}, stage: 'crop' });
  }

  private load(algId: number, version: string, manifest?: PluginManifest): LoadedPlugin {
    const key = `${algId}@${version}`;
    const hit = this.loaded.get(key);
    if (hit) return hit;
    const dir = this.dirOf(algId, version);
    const m = manifest ?? (JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as PluginManifest);
    const wasmPath = path.join(dir, m.entry.wasm);
    const shape = inspectWasm(readFileSync(wasmPath), m.limits.wasmMemoryPages);
    // 64 KiB pages: the manifest's cap, the module's own maximum and this executor's, whichever is least.
    const hostPages = Math.floor(((this.opts.maxMemoryMB ?? DEFAULT_PLUGIN_MEMORY_MB) * 1024) / 64);
    if (shape.memoryInitialPages > hostPages) {
      throw new PackageError(`plugin ${key}: its memory starts at ${shape.memoryInitialPages * 64} KiB, over this executor's plugin memory cap of ${hostPages * 64} KiB (--plugin-max-memory)`);
    }
    const p: LoadedPlugin = {
      manifest: m, dir, wasmPath, memoryInitialPages: shape.memoryInitialPages,
      memoryMaximumPages: Math.min(hostPages, m.limits.wasmMemoryPages, shape.memoryMaximumPages ?? m.limits.wasmMemoryPages),
      models: (m.models ?? []).map((md) => {
        // The manifest schema asks for at least one input; an installed manifest without one is broken.
        const [input] = md.inputs;
        if (!input) throw new Error(`plugin ${key}: model ${md.ModelID} declares no inputs`);
        return { ModelID: md.ModelID, ModelVersion: md.ModelVersion, path: path.join(dir, md.file), inputName: input.name, outputNames: md.outputs.map((o) => o.name), stage: md.stage ?? 'frame' };
      }),
    };
    this.loaded.set(key, p);
    return p;
  }

  /** The version new tasks get: the highest valid one. */
  activeVersion(algId: number): string | undefined {
    return this.state.filter((e) => e.AlgID === algId && e.status === 'valid').sort((a, b) => compareVersions(b.AlgVersion, a.AlgVersion))[0]?.AlgVersion;
  }

  /** A loaded, valid plugin for AlgID (and version, when given). */
  get(algId: number, version?: string): LoadedPlugin | undefined {
    const v = version || this.activeVersion(algId);
    const e = this.state.find((x) => x.AlgID === algId && x.AlgVersion === v && x.status === 'valid');
    return e ? this.load(algId, e.AlgVersion) : undefined;
  }

  /** Why AlgID@version cannot be used, or null. */
  problem(algId: number, version: string): string | null {
    const e = this.state.find((x) => x.AlgID === algId && x.AlgVersion === version);
    if (!e) return null;
    return e.status === 'invalid' ? `AlgID ${algId} version ${version} is installed but invalid: ${e.error}` : null;
  }

  has(algId: number, version?: string): boolean {
    return this.state.some((e) => e.AlgID === algId && (!version || e.AlgVersion === version));
  }

  /** Removes a version (refused while `inUse` says a task runs it). */
  remove(algId: number, version: string, inUse: (id: number, v: string) => boolean): void {
    if (!this.state.some((e) => e.AlgID === algId && e.AlgVersion === version)) throw new PackageError(`AlgID ${algId} version ${version} is not installed`);
    if (inUse(algId, version)) throw new PackageError(`AlgID ${algId} version ${version} is used by a running task; stop it first`);
    this.state = this.state.filter((e) => !(e.AlgID === algId && e.AlgVersion === version));
    this.loaded.delete(`${algId}@${version}`);
    rmSync(this.dirOf(algId, version), { recursive: true, force: true });
    this.save();
  }

  /** Table 14 AlgInfo entries (with table 15 ModelInfo). */
  algInfoList(inUse: (id: number, v: string) => boolean): AlgInfo[] {
    return this.state.map((e) => {
      const info: AlgInfo = {
        AlgID: e.AlgID, AlgType: e.AlgType, AlgVersion: e.AlgVersion,
        AlgStatus: e.status === 'invalid' ? AlgStatus.Invalid : inUse(e.AlgID, e.AlgVersion) ? AlgStatus.InUse : AlgStatus.Unused,
        AlgDownloadTime: formatRetinaDateTime(e.installedAt),
        AlgFileName: `${e.AlgType}-${e.AlgVersion}.rpk`.slice(0, 63),
      };
      if (e.status === 'valid') {
        const p = this.load(e.AlgID, e.AlgVersion);
        const runs = this.pool?.providers?.(p) ?? [];
        if (p.manifest.models?.length) info.ModelList = p.manifest.models.map((md) => withProvider({ ModelID: md.ModelID, ModelVersion: md.ModelVersion, ModelFileName: path.basename(md.file).slice(0, 127) }, runs.find((u) => u.ModelID === md.ModelID)));
      }
      return info;
    });
  }

  entries(): ReadonlyArray<StateEntry> {
    return this.state;
  }
}

/** ModelInfo with where the model runs, once the pool has chosen (at the install's trial run, or the first call since start). */
function withProvider(info: ModelInfo, u: ProviderUse | undefined): ModelInfo {
  if (!u) return info;
  return { ...info, ExecutionProvider: providerLabel(u), ...(u.reason ? { ExecutionProviderReason: cutUtf8(u.reason, 512) } : {}) };
}
