/**
 * Packages a dispatch names by AlgFileURL (table 20) but this executor lacks: downloaded,
 * verified and trial-run before the dispatch is admitted. A second dispatch naming the same
 * package while it downloads waits for that download instead of starting another.
 */
import type { TaskDispatchInfo } from '../protocol/index.ts';
import type { RetinaClient } from '../net/client.ts';
import { fetchPackage } from '../plugins/fetch.ts';
import type { PluginRegistry } from '../plugins/registry.ts';
import type { Logger } from '../log.ts';
import type { AlgorithmRegistry } from './algorithms.ts';

export interface InstallerOptions {
  algorithms: AlgorithmRegistry;
  plugins: PluginRegistry;
  /** Downloads carry its bearer token (the scheduler's repository asks for it). */
  client: RetinaClient;
  log: Logger;
  /** Told after each install, so the scheduler hears of the new algorithm (TotalResource). */
  installed(): void;
}

export class Installer {
  /** Package downloads in progress, by AlgID@AlgVersion. */
  private readonly fetching = new Map<string, Promise<string | null>>();

  constructor(private readonly o: InstallerOptions) {}

  /** Installs what the dispatch names but is missing here; returns why one could not be, or null. */
  async fetchMissing(list: TaskDispatchInfo[]): Promise<string | null> {
    for (const t of list) {
      const { AlgID, AlgVersion, AlgFileURL } = t.AlgModelInfo;
      if (this.o.algorithms.find(AlgID, AlgVersion) || this.o.plugins.has(AlgID, AlgVersion) || !AlgFileURL) continue;
      const key = `${AlgID}@${AlgVersion}`;
      let job = this.fetching.get(key);
      if (!job) {
        job = this.fetchOne(AlgID, AlgVersion, AlgFileURL).finally(() => this.fetching.delete(key));
        this.fetching.set(key, job);
      }
      const problem = await job;
      if (problem) return problem;
    }
    return null;
  }

  private async fetchOne(AlgID: number, AlgVersion: string, AlgFileURL: string): Promise<string | null> {
    try {
      const pkg = await fetchPackage(AlgFileURL, this.o.client);
      const r = await this.o.plugins.install(pkg);
      if (r.AlgID !== AlgID || r.AlgVersion !== AlgVersion) return `AlgModelInfo.AlgFileURL: package is AlgID ${r.AlgID} version ${r.AlgVersion}, not ${AlgID} ${AlgVersion}`;
      if (r.status !== 'valid') return `AlgModelInfo.AlgFileURL: package failed its trial run: ${r.error}`;
      this.o.log.info({ AlgID, AlgVersion, from: AlgFileURL }, 'algorithm package installed from AlgFileURL');
      this.o.installed();
      return null;
    } catch (err) {
      return `AlgModelInfo.AlgFileURL: ${(err as Error).message}`;
    }
  }
}
