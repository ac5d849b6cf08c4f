/** The example plugins in a cluster: build them, start processes that trust their key, publish one. */
import path from 'node:path';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { startCluster, type Cluster } from './cluster.ts';
import { retinadPlugin } from './entry.ts';

const root = path.resolve(import.meta.dirname, '..', '..');
const build = path.join(root, 'plugins-sdk', 'examples', 'build');

/** Path of an example package, e.g. `example('motion_detection-1.0.0')`. */
export const example = (name: string): string => path.join(build, `${name}.rpk`);

/** Builds the example packages (a no-op when they are current); the exit status. */
export function buildExamples(): number | null {
  return spawnSync(process.execPath, [path.join(root, 'scripts', 'build-plugins.mjs')]).status;
}

/** A cluster whose scheduler and executors trust the examples' publisher key. */
export function startExampleCluster(dir: string, n: number, opts: Parameters<typeof startCluster>[2] = {}): Promise<Cluster> {
  const trust = ['--trusted-keys', path.join(build, 'keys')];
  return startCluster(dir, n, { ...opts, schedulerArgs: [...trust, ...(opts.schedulerArgs ?? [])], executorArgs: [...trust, ...(opts.executorArgs ?? [])] });
}

/** `retinad-plugin publish FILE` to the cluster's scheduler. */
export function publish(cluster: Cluster, file: string): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [...retinadPlugin, 'publish', file, '--scheduler', cluster.scheduler.url, '--token', cluster.token], { encoding: 'utf8' });
}
