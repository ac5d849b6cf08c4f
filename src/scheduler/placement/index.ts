/**
 * Placement as a pipeline (Nomad / Kubernetes style): `place(request, view) → Plan` is pure.
 * Candidates are the executors that offer the algorithm (or, when none does, every executor,
 * which would download the published package); feasibility filters drop what cannot run the
 * subtask, each with its reason; the task's strategy scores the rest once and ranks them.
 * Each filter and scorer is one file; adding one touches its file and a list here.
 */
import type { AlgInfo, AvailableResource } from '../../protocol/index.ts';
import type { DeviceRow } from '../store.ts';
import { online } from './filters/online.ts';
import { enabled } from './filters/enabled.ts';
import { commandUrl } from './filters/command-url.ts';
import { excluded } from './filters/excluded.ts';
import { deviceType } from './filters/device-type.ts';
import { memory } from './filters/memory.ts';
import { decode } from './filters/decode.ts';
import { area } from './filters/area.ts';
import { matchAlgorithm } from './filters/algorithm.ts';
import { strategy } from './strategies.ts';
import type { Candidate, Filter, Plan, PlacementRequest, Rejection } from './types.ts';

export type { Area, Candidate, Filter, Plan, PlacementRequest, Rejection, Scorer } from './types.ts';
export { matchAlgorithm } from './filters/algorithm.ts';
export { placementWishes, type PlacementWishes } from './constraints.ts';
export { STRATEGIES, STRATEGY_NAMES, DEFAULT_STRATEGY } from './strategies.ts';

/** Filters in the order their reasons are reported. */
export const FILTERS: readonly Filter[] = [online, enabled, commandUrl, excluded, deviceType, memory, decode, area];

/** A device as the view hands it over: its row with its reports already parsed. */
export interface ViewDevice {
  row: DeviceRow;
  algs: readonly AlgInfo[];
  listed: boolean;
  total?: Candidate['total'];
  available?: AvailableResource;
}

/** What placement reads: the device registry's indexes and counters, and the repository. */
export interface PlacementView {
  /** Devices that may offer the request's algorithm (an index lookup; a superset is fine). */
  devicesFor(req: PlacementRequest): Iterable<ViewDevice>;
  /** Every device. */
  devices(): Iterable<ViewDevice>;
  activeCount(deviceId: string): number;
  /** Sequence number of the last placement on the device (-1: never). */
  lastPlaced(deviceId: string): number;
  /** Placements so far (round robin's clock). */
  seq(): number;
  /** The repository's newest published version for the request, if any. */
  published(req: PlacementRequest): AlgInfo | undefined;
}

function candidate(d: ViewDevice, alg: AlgInfo, view: PlacementView, download: boolean): Candidate {
  const c: Candidate = { device: d.row, alg, active: view.activeCount(d.row.device_id), availableCpu: d.available?.ResourceInfo.CommonResource?.AvailableCPU ?? 50,
    lastPlaced: view.lastPlaced(d.row.device_id) };
  if (d.total) c.total = d.total;
  if (d.available) c.available = d.available;
  if (download) c.download = true;
  return c;
}

/** The Plan for one subtask: feasible executors best first, rejected ones with their reasons. */
export function place(req: PlacementRequest, view: PlacementView): Plan {
  const own: Candidate[] = [];
  for (const d of view.devicesFor(req)) {
    if (!d.listed) continue;
    const alg = matchAlgorithm(req, d.algs);
    if (alg) own.push(candidate(d, alg, view, false));
  }
  const first = rank(req, own, view.seq());
  if (first.ranked.length) return { ...first, fromRepository: false };
  // Nobody offers it: any executor can fetch the published package (AlgFileURL, table 20).
  const pub = view.published(req);
  if (!pub) return { ...first, fromRepository: false };
  const all: Candidate[] = [];
  for (const d of view.devices()) all.push(candidate(d, pub, view, true));
  return { ...rank(req, all, view.seq()), fromRepository: true };
}

/** Builds candidates from stored device rows (parsing their JSON); executors without the algorithm are left out. */
export function candidates(req: PlacementRequest, devices: DeviceRow[], active: ReadonlyMap<string, number>): Candidate[] {
  const out: Candidate[] = [];
  for (const d of devices) {
    if (!d.alg_resource) continue;
    const algs = (JSON.parse(d.alg_resource) as { AlgInfoList: AlgInfo[] }).AlgInfoList;
    const alg = matchAlgorithm(req, algs);
    if (!alg) continue;
    const avail = d.available_resource ? (JSON.parse(d.available_resource) as AvailableResource) : undefined;
    const c: Candidate = { device: d, alg, active: active.get(d.device_id) ?? 0, availableCpu: avail?.ResourceInfo.CommonResource?.AvailableCPU ?? 50 };
    if (avail) c.available = avail;
    out.push(c);
  }
  return out;
}

const byId = new Intl.Collator().compare;

/** Filters and ranks (scoring each candidate once); returns the candidates best first, and why others were dropped. */
export function rank(req: PlacementRequest, cands: Candidate[], seq = 0): { ranked: Candidate[]; rejected: Rejection[] } {
  const rejected: Rejection[] = [];
  const weighted = strategy(req.strategy);
  const scored: Array<{ c: Candidate; s: number }> = [];
  next: for (const c of cands) {
    for (const f of FILTERS) {
      const why = f.check(req, c);
      if (why) { rejected.push({ deviceId: c.device.device_id, why }); continue next; }
    }
    let s = 0;
    for (const w of weighted) s += w.weight * w.scorer.score(req, c, { seq });
    scored.push({ c, s });
  }
  scored.sort((a, b) => b.s - a.s || byId(a.c.device.device_id, b.c.device.device_id));
  return { ranked: scored.map((x) => x.c), rejected };
}
