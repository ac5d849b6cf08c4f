/**
 * What this executor can run (ER3), in one place: the built-in algorithms (frame extraction,
 * transcoding) and the installed plugin packages behind one catalogue. Admission, the runner
 * choice, `algorithm_res_query` and the TotalResource report all ask it, so a built-in and a
 * plugin are found, listed and refused the same way.
 */
import type { AlgInfo } from '../protocol/index.ts';
import type { LoadedPlugin, PluginRegistry } from '../plugins/registry.ts';
import type { AlgorithmEntry, AlgorithmRegistry } from './algorithms.ts';

/** How an algorithm runs: a built-in runner, or a plugin in the sandbox pool. */
export type Runnable =
  | { kind: 'frames' | 'transcode' | 'fusion'; builtin: AlgorithmEntry; plugin?: undefined }
  | { kind: 'plugin'; plugin: LoadedPlugin; builtin?: undefined };

export class AlgorithmCatalogue {
  constructor(private readonly builtins: AlgorithmRegistry, private readonly plugins: PluginRegistry) {}

  /** What runs AlgID at `version` ("" or undefined: the active one), or why nothing here can. */
  resolve(algId: number, version?: string): { ok: true; run: Runnable } | { ok: false; problem: string } {
    const b = this.builtins.find(algId, version);
    if (b) return { ok: true, run: { kind: b.kind, builtin: b } };
    const v = version ?? '';
    if (!this.plugins.has(algId, version)) return { ok: false, problem: `AlgID ${algId} version "${v}" is not installed here (installed: ${this.installed().join(', ')})` };
    const bad = version !== undefined ? this.plugins.problem(algId, version) : null;
    if (bad) return { ok: false, problem: bad };
    const p = this.plugins.get(algId, version);
    return p ? { ok: true, run: { kind: 'plugin', plugin: p } } : { ok: false, problem: `AlgID ${algId} version "${v}" is not usable here` };
  }

  /** `AlgID@AlgVersion` of everything that can run (valid plugins only). */
  installed(): string[] {
    return [...this.builtins.list(), ...this.plugins.entries().filter((e) => e.status === 'valid')].map((a) => `${a.AlgID}@${a.AlgVersion}`);
  }

  /** Table 14 AlgInfoList: built-ins, then plugins; AlgStatus 0 while a task uses one. */
  algInfoList(inUse: (algId: number, version: string) => boolean): AlgInfo[] {
    return [...this.builtins.algInfoList(inUse), ...this.plugins.algInfoList(inUse)];
  }

  /** One line per algorithm for TotalResource.ExtendInfo (`AlgID:AlgType@AlgVersion`, invalid plugins marked). */
  describe(): string[] {
    return [...this.builtins.list().map((a) => `${a.AlgID}:${a.AlgType}@${a.AlgVersion}`),
      ...this.plugins.entries().map((e) => `${e.AlgID}:${e.AlgType}@${e.AlgVersion}${e.status === 'invalid' ? ' (invalid)' : ''}`)];
  }
}
