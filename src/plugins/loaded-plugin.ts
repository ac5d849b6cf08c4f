/**
 * An installed, verified package as the host runs it. Its own file so the pool (which runs it)
 * and the registry (which installs it and trial-runs it through the pool) need not import each other.
 */
import type { PluginManifest } from './manifest.ts';

export interface LoadedPlugin {
  manifest: PluginManifest;
  dir: string;
  wasmPath: string;
  memoryInitialPages: number;
  /** The cap the host gives the memory: the manifest's, or the module's own if lower. */
  memoryMaximumPages: number;
  models: Array<{ ModelID: number; ModelVersion: string; path: string; inputName: string; outputNames: string[]; stage: 'frame' | 'crop' }>;
}
