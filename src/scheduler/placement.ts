/**
 * Placement as a pipeline (Nomad / Kubernetes style): feasibility filters drop executors that
 * cannot run the subtask, scorers rank the rest, the best wins. Each strategy is one function;
 * adding one touches this list only.
 */
import { AlgStatus, compareVersions, type AlgInfo, type AlgResource, type AvailableResource } from '../protocol/index.ts';
import type { DeviceRow } from './store.ts';

/** What a subtask asks of an executor. */
export interface PlacementRequest {
  algId?: number;
  algType?: string;
  /** Devices that must not be chosen (e.g. the one that just failed). */
  exclude?: Set<string>;
  /** Preferred device for data locality (the camera's own box), M4. */
  nearDeviceId?: string;
  /** Only executors of this DeviceType (0 device, 1 edge, 2 cloud). */
  deviceType?: string;
}

/** An executor seen by the pipeline, with the algorithm it would run. */
export interface Candidate {
  device: DeviceRow;
  alg: AlgInfo;
  active: number;
  availableCpu: number;
}

export type Filter = (req: PlacementRequest, c: Candidate) => string | null;
export type Scorer = (req: PlacementRequest, c: Candidate) => number;

/** Picks the algorithm an executor would run for the request: highest version that matches. */
export function matchAlgorithm(req: PlacementRequest, algs: AlgInfo[]): AlgInfo | undefined {
  const usable = algs.filter((a) => a.AlgStatus !== AlgStatus.Invalid && (req.algId !== undefined ? a.AlgID === req.algId : true) &&
    (req.algType !== undefined ? a.AlgType.toLowerCase() === req.algType.toLowerCase() : true));
  return usable.sort((a, b) => compareVersions(b.AlgVersion, a.AlgVersion))[0];
}

export const FILTERS: Filter[] = [
  (_r, c) => (c.device.online ? null : 'offline'),
  (_r, c) => (c.device.enabled ? null : 'disabled'),
  (_r, c) => (c.device.command_url ? null : 'no CommandURL'),
  (r, c) => (r.exclude?.has(c.device.device_id) ? 'excluded' : null),
  (r, c) => (r.deviceType !== undefined && c.device.device_type !== r.deviceType ? `DeviceType ${c.device.device_type}, stage wants ${r.deviceType}` : null),
];

export const SCORERS: Array<{ weight: number; score: Scorer }> = [
  // Load balancing (M4): fewer active subtasks first.
  { weight: 10, score: (_r, c) => 1 / (1 + c.active) },
  // Headroom: idle CPU.
  { weight: 3, score: (_r, c) => c.availableCpu / 100 },
  // Data locality (M4): the executor the data belongs to.
  { weight: 20, score: (r, c) => (r.nearDeviceId && r.nearDeviceId === c.device.device_id ? 1 : 0) },
];

/** Builds candidates from stored devices; executors without the algorithm are left out. */
export function candidates(req: PlacementRequest, devices: DeviceRow[], active: ReadonlyMap<string, number>): Candidate[] {
  const out: Candidate[] = [];
  for (const d of devices) {
    if (!d.alg_resource) continue;
    const algs = (JSON.parse(d.alg_resource) as AlgResource).AlgInfoList;
    const alg = matchAlgorithm(req, algs);
    if (!alg) continue;
    const avail = d.available_resource ? (JSON.parse(d.available_resource) as AvailableResource) : undefined;
    out.push({ device: d, alg, active: active.get(d.device_id) ?? 0, availableCpu: avail?.ResourceInfo.CommonResource?.AvailableCPU ?? 50 });
  }
  return out;
}

/** Filters and ranks; returns the candidates best first, and why others were dropped. */
export function rank(req: PlacementRequest, cands: Candidate[]): { ranked: Candidate[]; rejected: Array<{ deviceId: string; why: string }> } {
  const rejected: Array<{ deviceId: string; why: string }> = [];
  const feasible = cands.filter((c) => {
    for (const f of FILTERS) {
      const why = f(req, c);
      if (why) { rejected.push({ deviceId: c.device.device_id, why }); return false; }
    }
    return true;
  });
  const score = (c: Candidate) => SCORERS.reduce((s, x) => s + x.weight * x.score(req, c), 0);
  const ranked = feasible.map((c) => ({ c, s: score(c) })).sort((a, b) => b.s - a.s || a.c.device.device_id.localeCompare(b.c.device.device_id)).map((x) => x.c);
  return { ranked, rejected };
}
