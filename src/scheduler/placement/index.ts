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
  /** Memo of the algorithm matched per request (AlgID, AlgType); its owner clears it when the list changes. */
  matched?: Map<string, AlgInfo | null>;
}

/** The algorithm `d` would run for `req` (memoised on the device: the same few requests recur). */
function algorithmOf(req: PlacementRequest, d: ViewDevice): AlgInfo | undefined {
  if (!d.matched) return matchAlgorithm(req, d.algs);
  const key = `${req.algId ?? ''}\n${req.algType?.toLowerCase() ?? ''}`;
  let alg = d.matched.get(key);
  if (alg === undefined) { alg = matchAlgorithm(req, d.algs) ?? null; d.matched.set(key, alg); }
  return alg ?? undefined;
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

/**
 * The Plan for one subtask: feasible executors best first, rejected ones with their reasons.
 * `limit` keeps only the best so many (every candidate is still filtered and scored, but
 * ordering all of a large fleet is not needed when the first one accepts).
 */
export function place(req: PlacementRequest, view: PlacementView, limit = Infinity): Plan {
  const own: Candidate[] = [];
  for (const d of view.devicesFor(req)) {
    if (!d.listed) continue;
    const alg = algorithmOf(req, d);
    if (alg) own.push(candidate(d, alg, view, false));
  }
  const first = rank(req, own, view.seq(), limit);
  if (first.ranked.length) return { ...first, fromRepository: false };
  // Nobody offers it: any executor can fetch the published package (AlgFileURL, table 20).
  const pub = view.published(req);
  if (!pub) return { ...first, fromRepository: false };
  const all: Candidate[] = [];
  for (const d of view.devices()) all.push(candidate(d, pub, view, true));
  return { ...rank(req, all, view.seq(), limit), fromRepository: true };
}

/** Whether `place()` would find anyone, stopping at the first feasible executor (intake's check). */
export function feasible(req: PlacementRequest, view: PlacementView): boolean {
  for (const d of view.devicesFor(req)) {
    if (!d.listed) continue;
    const alg = algorithmOf(req, d);
    if (alg && passes(req, candidate(d, alg, view, false))) return true;
  }
  const pub = view.published(req);
  if (!pub) return false;
  for (const d of view.devices()) if (passes(req, candidate(d, pub, view, true))) return true;
  return false;
}

function passes(req: PlacementRequest, c: Candidate): boolean {
  for (const f of FILTERS) if (f.check(req, c)) return false;
  return true;
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

type Scored = { c: Candidate; s: number };
const better = (a: Scored, b: Scored) => b.s - a.s || byId(a.c.device.device_id, b.c.device.device_id);

/** The best `limit` of `scored`, in order, without sorting all of them. */
function best(scored: Scored[], limit: number): Scored[] {
  if (scored.length <= limit) return scored.sort(better);
  const top: Scored[] = [];
  for (const x of scored) {
    const last = top[top.length - 1];
    if (top.length === limit && last && better(x, last) >= 0) continue;
    let i = top.length;
    while (i > 0 && better(x, top[i - 1]!) < 0) i--;
    top.splice(i, 0, x);
    if (top.length > limit) top.pop();
  }
  return top;
}

/** Filters and ranks (scoring each candidate once); returns the best `limit` candidates first, and why others were dropped. */
export function rank(req: PlacementRequest, cands: Candidate[], seq = 0, limit = Infinity): { ranked: Candidate[]; rejected: Rejection[] } {
  const rejected: Rejection[] = [];
  const weighted = strategy(req.strategy);
  const scored: Scored[] = [];
  next: for (const c of cands) {
    for (const f of FILTERS) {
      const why = f.check(req, c);
      if (why) { rejected.push({ deviceId: c.device.device_id, why }); continue next; }
    }
    let s = 0;
    for (const w of weighted) s += w.weight * w.scorer.score(req, c, { seq });
    scored.push({ c, s });
  }
  return { ranked: best(scored, limit).map((x) => x.c), rejected };
}
