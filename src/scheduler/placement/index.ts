/**
 * Placement as a pipeline (Nomad / Kubernetes style): `place(request, view) → Plan` is pure.
 * Candidates are the executors that offer the algorithm (or, when none does, every executor,
 * which would download the published package); feasibility filters drop what cannot run the
 * subtask, each with its reason; the task's strategy scores the rest once and ranks them.
 * Each filter and scorer is one file; adding one touches its file and a list here.
 */
import { compareVersions, type AlgInfo, type AvailableResource } from '../../protocol/index.ts';
import type { DeviceRow } from '../store.ts';
import { online } from './filters/online.ts';
import { enabled } from './filters/enabled.ts';
import { commandUrl } from './filters/command-url.ts';
import { excluded } from './filters/excluded.ts';
import { avoided } from './filters/avoided.ts';
import { deviceType } from './filters/device-type.ts';
import { memory } from './filters/memory.ts';
import { decode } from './filters/decode.ts';
import { area } from './filters/area.ts';
import { pinned } from './filters/pinned.ts';
import { accelerator } from './filters/accelerator.ts';
import { matchAlgorithm } from './filters/algorithm.ts';
import { strategy } from './strategies.ts';
import type { Candidate, Filter, Plan, PlacementRequest, Rejection } from './types.ts';

export type { Area, Candidate, Filter, Plan, PlacementRequest, Rejection, Scorer } from './types.ts';
export { matchAlgorithm } from './filters/algorithm.ts';
export { placementWishes, type PlacementWishes } from './constraints.ts';
export { STRATEGIES, STRATEGY_NAMES, DEFAULT_STRATEGY } from './strategies.ts';

/** Filters in the order their reasons are reported. */
export const FILTERS: readonly Filter[] = [pinned, online, enabled, commandUrl, excluded, avoided, deviceType, memory, decode, area, accelerator];

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

/** The memo key of a request's algorithm. */
const matchKey = (req: PlacementRequest) => `${req.algId ?? ''}\n${req.algType?.toLowerCase() ?? ''}`;

/** The algorithm `d` would run for `req` (memoised on the device: the same few requests recur). */
function algorithmOf(req: PlacementRequest, key: string, d: ViewDevice): AlgInfo | undefined {
  if (!d.matched) return matchAlgorithm(req, d.algs);
  let alg = d.matched.get(key);
  if (alg === undefined) { alg = matchAlgorithm(req, d.algs) ?? null; d.matched.set(key, alg); }
  return alg ?? undefined;
}

/** What placement reads: the device registry's indexes and counters, and the repository. */
export interface PlacementView {
  /** Devices that may offer the request's algorithm (an index lookup; a superset is fine). */
  devicesFor(req: PlacementRequest): readonly ViewDevice[];
  /** Every device. */
  devices(): readonly ViewDevice[];
  /** One device by DeviceID (the data's own, for locality). */
  device(deviceId: string): ViewDevice | undefined;
  activeCount(deviceId: string): number;
  /** Sequence number of the last placement on the device (-1: never). */
  lastPlaced(deviceId: string): number;
  /** Placements so far (round robin's clock). */
  seq(): number;
  /** The repository's newest published version for the request, if any. */
  published(req: PlacementRequest): AlgInfo | undefined;
  /** What placement has charged to the device since its last report (none when absent). */
  reserved?(deviceId: string): { memoryBytes: number; decodeUnits: number };
}

/** A pinned subtask (SB2) looks at its one executor, not the fleet. */
function only(req: PlacementRequest, view: PlacementView): readonly ViewDevice[] {
  const d = req.nearDeviceId !== undefined ? view.device(req.nearDeviceId) : undefined;
  return d ? [d] : [];
}
const offering = (req: PlacementRequest, view: PlacementView): readonly ViewDevice[] => (req.pinned ? only(req, view) : view.devicesFor(req));
const everyone = (req: PlacementRequest, view: PlacementView): readonly ViewDevice[] => (req.pinned ? only(req, view) : view.devices());

/** Fills `c` (a scratch candidate reused for every device: no allocation per device) from `d`. */
function fill(c: Candidate, d: ViewDevice, alg: AlgInfo, view: PlacementView, download: boolean, withLast = false): Candidate {
  c.device = d.row;
  c.alg = alg;
  c.active = view.activeCount(d.row.device_id);
  c.availableCpu = d.available?.ResourceInfo.CommonResource?.AvailableCPU ?? 50;
  // Only a strategy that ranks by it asks where each executor stands in the placement order.
  c.lastPlaced = withLast ? view.lastPlaced(d.row.device_id) : undefined;
  // Assigned, never deleted: the scratch object keeps one shape.
  c.total = d.total;
  c.available = d.available;
  c.download = download || undefined;
  return c;
}

/** The scratch candidate of one placement; what it asks of the view about charges is made once here, not per device. */
const scratch = (view: PlacementView): Candidate => ({ device: undefined as unknown as DeviceRow, alg: undefined as unknown as AlgInfo, active: 0, availableCpu: 50,
  reserved: view.reserved ? (id: string) => view.reserved!(id) : undefined });

/**
 * The Plan for one subtask: feasible executors best first, rejected ones with their reasons.
 * `limit` keeps only the best so many (every candidate is still filtered and scored, but
 * ordering all of a large fleet is not needed when the first one accepts).
 */
export function place(req: PlacementRequest, view: PlacementView, limit = Infinity): Plan {
  const key = matchKey(req);
  const c = scratch(view);
  const withLast = strategy(req.strategy).some((w) => w.scorer.needsLastPlaced);
  const own = new Ranking(req, view.seq(), limit);
  const pub = view.published(req);
  scan(req, view, offering(req, view), limit, own, (d) => {
    const alg = d.listed ? algorithmOf(req, key, d) : undefined;
    // A newer published version (e.g. a trained model, DC3) goes to new tasks: the executor fetches it.
    const newer = alg && pub && pub.AlgID === alg.AlgID && compareVersions(pub.AlgVersion, alg.AlgVersion) > 0;
    return alg && fill(c, d, newer ? pub : alg, view, !!newer, withLast);
  });
  if (own.size) return { ...own.result(), fromRepository: false };
  // Nobody offers it: any executor can fetch the published package (AlgFileURL, table 20).
  if (!pub) return { ...own.result(), fromRepository: false };
  const all = new Ranking(req, view.seq(), limit);
  scan(req, view, everyone(req, view), limit, all, (d) => fill(c, d, pub, view, true, withLast));
  return { ...all.result(), fromRepository: true };
}

/**
 * How many feasible executors a paged placement scores in a fleet of `n` candidates: all of a
 * small fleet, else SCORE_AT_LEAST from a rotating start. Kubernetes scores an adaptive share
 * (50 % less 1 % per 125 nodes, at least 100 nodes: 420 of 1,000) and Nomad only ceil(log2 n)
 * (10 of 1,000); each costs a filter-and-score pass per executor, which at a thousand executors
 * was most of what a placement cost. A fixed window of Kubernetes' floor keeps the cost flat in
 * the fleet's size while successive windows still sweep the whole fleet (the start rotates by a
 * window per placement), so load spreads as evenly; the data's own device is always seen.
 */
export function scoreCount(n: number): number {
  return Math.min(n, SCORE_AT_LEAST);
}
export const SCORE_AT_LEAST = 100;

/**
 * Offers `list`'s devices to `ranking`. A fleet of up to SCORE_AT_LEAST candidates is scored
 * whole (the best executor wins, as always). A larger one is scored from a rotating start until
 * scoreCount(n) feasible executors were seen — the way Kubernetes' scheduler bounds its work — so
 * a placement costs about the same at 10,000 executors as at 1,000, and successive placements
 * look at different parts of the fleet. The data's own device (locality) is always considered. Only with
 * a bounded `limit` (the dispatcher's pages); a full ranking still sees everyone.
 */
function scan(req: PlacementRequest, view: PlacementView, list: readonly ViewDevice[], limit: number, ranking: Ranking, candidateOf: (d: ViewDevice) => Candidate | undefined): void {
  const n = list.length;
  const enough = limit === Infinity ? n : scoreCount(n);
  const near = enough < n && req.nearDeviceId !== undefined ? view.device(req.nearDeviceId) : undefined;
  if (near && list.includes(near)) {
    const c = candidateOf(near);
    if (c) ranking.offer(c, true);
  }
  const start = enough < n ? (view.seq() * enough) % n : 0;
  for (let i = 0; i < n && ranking.seen < enough; i++) {
    const d = list[(start + i) % n]!;
    if (d === near) continue;
    const c = candidateOf(d);
    if (c) ranking.offer(c, true);
  }
}

/** Whether `place()` would find anyone, stopping at the first feasible executor (intake's check). */
export function feasible(req: PlacementRequest, view: PlacementView): boolean {
  const key = matchKey(req);
  const c = scratch(view);
  const filters = filtersFor(req);
  for (const d of offering(req, view)) {
    if (!d.listed) continue;
    const alg = algorithmOf(req, key, d);
    if (alg && passes(req, fill(c, d, alg, view, false), filters)) return true;
  }
  const pub = view.published(req);
  if (!pub) return false;
  for (const d of everyone(req, view)) if (passes(req, fill(c, d, pub, view, true), filters)) return true;
  return false;
}

/** Why no executor can take `req` (the first rejections, for the initiator), or '' when none was even a candidate. */
export function whyNot(req: PlacementRequest, view: PlacementView, max = 2): string {
  return place(req, view).rejected.slice(0, max).map((r) => `${r.deviceId}: ${r.why}`).join('; ');
}

function passes(req: PlacementRequest, c: Candidate, filters = filtersFor(req)): boolean {
  for (const f of filters) if (f.check(req, c)) return false;
  return true;
}

/** The filters that can reject anyone for `req`, in FILTERS' order. */
export function filtersFor(req: PlacementRequest): readonly Filter[] {
  return FILTERS.filter((f) => !f.applies || f.applies(req));
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

/**
 * Ties go to the lower DeviceID by code unit: the same order on every host, whatever its locale
 * (a locale-aware collator is also what made a tie cost most of a placement: a fleet of idle
 * executors ties on every comparison).
 */
const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

type Scored = { c: Candidate; s: number };
/** Negative when a candidate scored `s` ranks before `b`. */
const before = (s: number, c: Candidate, b: Scored) => b.s - s || byId(c.device.device_id, b.c.device.device_id);
const better = (a: Scored, b: Scored) => before(a.s, a.c, b);

/**
 * Filters and scores candidates one at a time, keeping the best `limit` in order (an insertion
 * into a short list, not a sort of the fleet) and every rejection with its reason.
 */
class Ranking {
  private readonly top: Scored[] = [];
  private readonly rejected: Rejection[] = [];
  private readonly weighted;
  private readonly ctx;
  private readonly filters;

  constructor(private readonly req: PlacementRequest, seq: number, private readonly limit: number) {
    this.weighted = strategy(req.strategy);
    this.ctx = { seq };
    this.filters = filtersFor(req);
  }

  /** Feasible candidates offered so far. */
  seen = 0;

  get size(): number {
    return this.top.length;
  }

  /** Considers `c`; `scratch`: it is reused by the caller, so a copy is kept. */
  offer(c: Candidate, scratch: boolean): void {
    for (const f of this.filters) {
      const why = f.check(this.req, c);
      if (why) { this.rejected.push({ deviceId: c.device.device_id, why }); return; }
    }
    this.seen++;
    let s = 0;
    for (const w of this.weighted) s += w.weight * w.scorer.score(this.req, c, this.ctx);
    const top = this.top;
    if (this.limit === Infinity) { top.push({ c: scratch ? { ...c } : c, s }); return; } // sorted once, in result()
    const last = top[top.length - 1];
    // Most of a large fleet ranks below the kept few: it is dropped before anything is copied.
    if (top.length >= this.limit && last && before(s, c, last) >= 0) return;
    const x = { c: scratch ? { ...c } : c, s };
    let i = top.length;
    while (i > 0 && better(x, top[i - 1]!) < 0) i--;
    top.splice(i, 0, x);
    if (top.length > this.limit) top.pop();
  }

  result(): { ranked: Candidate[]; rejected: Rejection[] } {
    if (this.limit === Infinity) this.top.sort(better);
    return { ranked: this.top.map((x) => x.c), rejected: this.rejected };
  }
}

/** Filters and ranks (scoring each candidate once); returns the best `limit` candidates first, and why others were dropped. */
export function rank(req: PlacementRequest, cands: Candidate[], seq = 0, limit = Infinity): { ranked: Candidate[]; rejected: Rejection[] } {
  const r = new Ranking(req, seq, limit);
  for (const c of cands) r.offer(c, false);
  return r.result();
}
