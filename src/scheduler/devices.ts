/**
 * The device registry (SR1, SR3, SM2): every executor with its parsed AlgInfoList,
 * TotalResource and AvailableResource, online/enabled and CommandURL, kept in memory with
 * indexes (by AlgID, by AlgType lower-cased, by DeviceType, the online set) and written through
 * to the store, from which it is rebuilt at start. Placement, intake and liveness read it: no
 * device row is read or JSON parsed per TaskRequest.
 */
import type { AlgInfo, AlgResource, AvailableResource, TotalResource } from '../protocol/index.ts';
import type { PlacementRequest, PlacementView, ViewDevice } from './placement/index.ts';
import type { DeviceInput, DeviceRow, SchedulerStateStore } from './store.ts';

/** A device as the registry holds it: its stored row, and its reports parsed once. */
export interface DeviceState extends ViewDevice {
  row: DeviceRow;
  algs: AlgInfo[];
  /** It has answered an algorithm query (an empty list is still a list). */
  listed: boolean;
  total?: TotalResource;
  available?: AvailableResource;
  matched: Map<string, AlgInfo | null>;
}

function parse<T>(s: string | null): T | undefined {
  return s ? (JSON.parse(s) as T) : undefined;
}

const add = <K>(m: Map<K, Set<DeviceState>>, k: K, d: DeviceState) => {
  let s = m.get(k);
  if (!s) { s = new Set(); m.set(k, s); }
  s.add(d);
};
const remove = <K>(m: Map<K, Set<DeviceState>>, k: K, d: DeviceState) => {
  const s = m.get(k);
  if (s?.delete(d) && !s.size) m.delete(k);
};
const NONE: readonly DeviceState[] = [];

export class DeviceRegistry {
  private readonly byId = new Map<string, DeviceState>();
  private readonly byAlgId = new Map<number, Set<DeviceState>>();
  private readonly byAlgType = new Map<string, Set<DeviceState>>();
  private readonly byDeviceType = new Map<string, Set<DeviceState>>();
  private readonly onlineIds = new Set<string>();
  /** The index sets as arrays (placement scans them from a rotating start), built on demand. */
  private readonly arrays = new Map<string, DeviceState[]>();
  private sortedCache: DeviceState[] | null = null;
  /** Online devices whose last-seen stamp is newer in memory than in the store. */
  private readonly unsaved = new Set<DeviceState>();
  /** Round robin's clock: placements so far, and each device's last. */
  private placements = 0;
  private readonly lastPlacedAt = new Map<string, number>();

  constructor(private readonly store: SchedulerStateStore) {
    for (const row of store.devices()) this.load(row);
  }

  /** A stored row into memory, parsed once. */
  private load(row: DeviceRow): void {
    const d: DeviceState = { row, algs: [], listed: false, matched: new Map() };
    const algs = parse<AlgResource>(row.alg_resource);
    if (algs) { d.algs = algs.AlgInfoList; d.listed = true; }
    const total = parse<TotalResource>(row.total_resource);
    if (total) d.total = total;
    const avail = parse<AvailableResource>(row.available_resource);
    if (avail) d.available = avail;
    this.byId.set(row.device_id, d);
    this.index(d);
  }

  /** A follower replica: the device as the shared store holds it now (another replica wrote it). */
  reload(id: string): void {
    const old = this.byId.get(id);
    if (old) { this.unindex(old); this.unsaved.delete(old); this.byId.delete(id); }
    this.sortedCache = null;
    const row = this.store.device(id);
    if (row) this.load(row);
  }

  private index(d: DeviceState): void {
    const id = d.row.device_id;
    this.arrays.clear();
    add(this.byDeviceType, d.row.device_type, d);
    for (const a of d.algs) { add(this.byAlgId, a.AlgID, d); add(this.byAlgType, a.AlgType.toLowerCase(), d); }
    if (d.row.online) this.onlineIds.add(id); else this.onlineIds.delete(id);
  }

  private unindex(d: DeviceState): void {
    this.arrays.clear();
    remove(this.byDeviceType, d.row.device_type, d);
    for (const a of d.algs) { remove(this.byAlgId, a.AlgID, d); remove(this.byAlgType, a.AlgType.toLowerCase(), d); }
    this.onlineIds.delete(d.row.device_id);
  }

  get(id: string): DeviceState | undefined {
    return this.byId.get(id);
  }

  /** SM1 add: an executor known before it registers (offline until it does). False when it exists. */
  provision(i: DeviceInput, now: number): boolean {
    if (this.byId.has(i.deviceId)) return false;
    this.register(i, now);
    this.setOnline(i.deviceId, false);
    return true;
  }

  /** SM1 enable/disable: a disabled executor is not chosen by placement. */
  setEnabled(id: string, enabled: boolean): boolean {
    const d = this.byId.get(id);
    if (!d || !this.store.setEnabled(id, enabled)) return false;
    d.row.enabled = enabled ? 1 : 0;
    this.arrays.clear();
    return true;
  }

  /** SM1 delete: the executor is forgotten. */
  remove(id: string): boolean {
    const d = this.byId.get(id);
    if (!d) return false;
    this.unsaved.delete(d);
    this.unindex(d);
    this.byId.delete(id);
    this.sortedCache = null;
    return this.store.deleteDevice(id);
  }

  /** The device's row (as the store holds it). */
  row(id: string): DeviceRow | undefined {
    return this.byId.get(id)?.row;
  }

  /** Every device, by DeviceID. */
  all(): DeviceState[] {
    this.sortedCache ??= [...this.byId.values()].sort((a, b) => (a.row.device_id < b.row.device_id ? -1 : 1));
    return this.sortedCache;
  }

  rows(): DeviceRow[] {
    return this.all().map((d) => d.row);
  }

  /** IDs of the devices online now. */
  onlineSet(): ReadonlySet<string> {
    return this.onlineIds;
  }

  /** Devices that may offer the algorithm asked for (by AlgID, else AlgType), else of the DeviceType asked for: the index itself, not a copy. */
  offering(req: Pick<PlacementRequest, 'algId' | 'algType' | 'deviceType'>): readonly DeviceState[] {
    if (req.algId !== undefined) return this.array(`id:${req.algId}`, this.byAlgId.get(req.algId));
    if (req.algType !== undefined) return this.array(`type:${req.algType.toLowerCase()}`, this.byAlgType.get(req.algType.toLowerCase()));
    if (req.deviceType !== undefined) return this.array(`dev:${req.deviceType}`, this.byDeviceType.get(req.deviceType));
    return this.all();
  }

  private array(key: string, set: Set<DeviceState> | undefined): readonly DeviceState[] {
    if (!set) return NONE;
    let a = this.arrays.get(key);
    if (!a) { a = [...set]; this.arrays.set(key, a); }
    return a;
  }

  /** Registers or re-registers a device: online, its algorithm list to be asked again. */
  register(i: DeviceInput, now: number): void {
    this.store.upsertDevice(i, now);
    const old = this.byId.get(i.deviceId);
    if (old) this.unindex(old);
    const row: DeviceRow = {
      device_id: i.deviceId, device_type: i.deviceType, product_type: i.productType, device_name: i.deviceName ?? null, command_url: i.commandUrl ?? null,
      longitude: i.longitude ?? null, latitude: i.latitude ?? null, online: 1, enabled: old?.row.enabled ?? 1, registered_at: now, last_seen: now,
      total_resource: old?.row.total_resource ?? null, available_resource: old?.row.available_resource ?? null, alg_resource: old?.row.alg_resource ?? null, alg_checked_at: 0,
    };
    const d: DeviceState = { ...(old ?? { algs: [], listed: false }), row, matched: new Map() };
    this.byId.set(i.deviceId, d);
    this.index(d);
    // A re-registration replaces the state object: the sorted list must not keep the old one (DeviceList, cascade aggregates).
    this.sortedCache = null;
  }

  /**
   * A sign of life that arrived at `at`: online, last seen moves forward only. A device coming
   * back online is written at once; an online one's newer stamp waits for `flush()` (thousands of
   * keepalives a second become one transaction; after a restart every online device's stamp is
   * set to the start time anyway, so a lost one changes nothing).
   */
  touch(id: string, at: number): boolean {
    const d = this.byId.get(id);
    if (!d) return false;
    const wasOnline = d.row.online === 1;
    d.row.last_seen = Math.max(d.row.last_seen, at);
    d.row.online = 1;
    this.onlineIds.add(id);
    if (wasOnline) this.unsaved.add(d);
    else this.store.touchDevice(id, d.row.last_seen);
    return true;
  }

  /** Writes the last-seen stamps kept since the last flush, in one transaction. */
  flush(): void {
    if (!this.unsaved.size) return;
    this.store.batch(() => { for (const d of this.unsaved) if (d.row.online) this.store.touchDevice(d.row.device_id, d.row.last_seen); });
    this.unsaved.clear();
  }

  setOnline(id: string, online: boolean): void {
    const d = this.byId.get(id);
    if (d && this.unsaved.delete(d)) this.store.touchDevice(id, d.row.last_seen);
    this.store.setOnline(id, online);
    if (!d) return;
    d.row.online = online ? 1 : 0;
    if (online) this.onlineIds.add(id); else this.onlineIds.delete(id);
  }

  setTotal(r: TotalResource): boolean {
    const d = this.byId.get(r.DeviceID);
    if (!d || !this.store.setTotalResource(r)) return false;
    d.total = r;
    d.row.total_resource = JSON.stringify(r);
    return true;
  }

  setAvailable(r: AvailableResource): boolean {
    const d = this.byId.get(r.DeviceID);
    if (!d || !this.store.setAvailableResource(r)) return false;
    d.available = r;
    d.row.available_resource = JSON.stringify(r);
    return true;
  }

  /** SR3: the device's algorithm list as it answered it (checked at `at`). */
  setAlgs(id: string, r: AlgResource, at: number = Date.now()): void {
    this.store.setAlgResource(id, r, at);
    const d = this.byId.get(id);
    if (!d) return;
    this.unindex(d);
    d.algs = r.AlgInfoList;
    d.listed = true;
    d.matched.clear();
    d.row.alg_resource = JSON.stringify(r);
    d.row.alg_checked_at = at;
    this.index(d);
  }

  /** Online devices with a CommandURL whose algorithm list is older than `olderThan` ms at `now`. */
  stale(now: number, olderThan: number): string[] {
    const out: string[] = [];
    for (const id of this.onlineIds) {
      const d = this.byId.get(id);
      if (d?.row.command_url && now - d.row.alg_checked_at > olderThan) out.push(id);
    }
    return out;
  }

  /** Online devices whose first algorithm list has not arrived yet. */
  unlisted(): string[] {
    return [...this.onlineIds].filter((id) => this.byId.get(id)?.row.alg_checked_at === 0);
  }

  /** Round robin's bookkeeping: a subtask was placed on `id`. */
  notePlaced(id: string): void {
    this.lastPlacedAt.set(id, ++this.placements);
  }

  /** The placement view over this registry, the store's active counts and a repository lookup. */
  view(activeCount: (id: string) => number, published: PlacementView['published'], reserved?: PlacementView['reserved']): PlacementView {
    return {
      ...(reserved ? { reserved } : {}),
      devicesFor: (req) => this.offering(req),
      devices: () => this.all(),
      device: (id) => this.byId.get(id),
      activeCount,
      lastPlaced: (id) => this.lastPlacedAt.get(id) ?? -1,
      seq: () => this.placements,
      published,
    };
  }
}
