/**
 * Clause 5.2, 9.3: what a lower scheduler tells its upper one about its site. The upper
 * scheduler places whole subtasks on the lower one, which puts each on one of its executors, so
 * the two reports answer two questions: TotalResource, how much the site has (sums over its
 * executors), and AvailableResource, the most one subtask can still get there (the best
 * executor, field by field). The sums of what is free travel in ExtendInfo for operators.
 */
import { compareVersions, type AlgInfo, type AvailableResource, type DeviceType, type TotalResource } from '../../protocol/index.ts';
import type { DeviceState } from '../devices.ts';

/** ProductType a retinad scheduler registers upwards with (it is not an executor's hardware). */
export const SCHEDULER_PRODUCT_TYPE = 'retinad-scheduler';

const sum = (xs: Array<number | undefined>): number | undefined => {
  const v = xs.filter((x): x is number => x !== undefined);
  return v.length ? v.reduce((a, b) => a + b, 0) : undefined;
};
const max = (xs: Array<number | undefined>): number | undefined => {
  const v = xs.filter((x): x is number => x !== undefined);
  return v.length ? Math.max(...v) : undefined;
};

/** The devices that count: online and enabled. */
export function siteDevices(all: readonly DeviceState[]): DeviceState[] {
  return all.filter((d) => d.row.online === 1 && d.row.enabled === 1);
}

/** Table 4 for the whole site: sums of memory, storage, bandwidth and decode capacity; the best compute. */
export function aggregateTotal(deviceId: string, deviceType: DeviceType, devs: readonly DeviceState[]): TotalResource {
  const totals = devs.map((d) => d.total).filter((t): t is TotalResource => t !== undefined);
  const common = totals.map((t) => t.ResourceInfo.CommonResource);
  const video = new Map<string, { dec?: number; enc?: number; decRes?: string; encRes?: string }>();
  for (const t of totals) for (const v of t.ResourceInfo.VideoProcessResource ?? []) {
    const e = video.get(v.FormatName) ?? {};
    if (v.Decoding) { e.dec = (e.dec ?? 0) + v.Decoding.MaxPerf; e.decRes ??= v.Decoding.MaxResolution; }
    if (v.Encoding) { e.enc = (e.enc ?? 0) + v.Encoding.MaxPerf; e.encRes ??= v.Encoding.MaxResolution; }
    video.set(v.FormatName, e);
  }
  // The chip of the executor with the most compute memory names what the site can run best.
  const compute = totals.map((t) => t.ResourceInfo.ComputeResource).filter((c) => c !== undefined)
    .sort((a, b) => (b.TotalComputeMemory ?? 0) - (a.TotalComputeMemory ?? 0))[0];
  const info: TotalResource['ResourceInfo'] = { IsValid: totals.length ? 'Y' : 'N', ExtendInfo: { Executors: devs.length } };
  if (common.some((c) => c)) info.CommonResource = { TotalMemory: sum(common.map((c) => c?.TotalMemory)) ?? 0, TotalStorage: sum(common.map((c) => c?.TotalStorage)) ?? 0, TotalBandwidth: sum(common.map((c) => c?.TotalBandwidth)) ?? 0 };
  if (compute) info.ComputeResource = compute;
  if (video.size) {
    info.VideoProcessResource = [...video].map(([FormatName, e]) => ({ FormatName,
      ...(e.dec !== undefined ? { Decoding: { MaxResolution: e.decRes ?? '', MaxPerf: e.dec } } : {}),
      ...(e.enc !== undefined ? { Encoding: { MaxResolution: e.encRes ?? '', MaxPerf: e.enc } } : {}) }));
  }
  return { DeviceID: deviceId, DeviceType: deviceType, ProductType: SCHEDULER_PRODUCT_TYPE, ResourceInfo: info };
}

/** Table 7 for the site: per field the best single executor (what one subtask can get); sums in ExtendInfo. */
export function aggregateAvailable(deviceId: string, devs: readonly DeviceState[]): AvailableResource {
  const avails = devs.map((d) => d.available).filter((a): a is AvailableResource => a !== undefined);
  const common = avails.map((a) => a.ResourceInfo.CommonResource);
  const video = new Map<string, { dec?: number; enc?: number }>();
  for (const a of avails) for (const v of a.ResourceInfo.VideoProcessResource ?? []) {
    const e = video.get(v.FormatName) ?? {};
    if (v.AvailDecodePerf !== undefined) e.dec = Math.max(e.dec ?? 0, v.AvailDecodePerf);
    if (v.AvailEncodePerf !== undefined) e.enc = Math.max(e.enc ?? 0, v.AvailEncodePerf);
    video.set(v.FormatName, e);
  }
  const info: AvailableResource['ResourceInfo'] = { IsValid: avails.length ? 'Y' : 'N',
    ExtendInfo: { Executors: devs.length, SumAvailableMemory: sum(common.map((c) => c?.AvailableMemory)) ?? 0, SumAvailableStorage: sum(common.map((c) => c?.AvailableStorage)) ?? 0 } };
  if (common.some((c) => c)) {
    const cr: NonNullable<AvailableResource['ResourceInfo']['CommonResource']> = {};
    const mem = max(common.map((c) => c?.AvailableMemory));
    const sto = max(common.map((c) => c?.AvailableStorage));
    const bw = max(common.map((c) => c?.AvailableBandwidth));
    const cpu = max(common.map((c) => c?.AvailableCPU));
    if (mem !== undefined) cr.AvailableMemory = mem;
    if (sto !== undefined) cr.AvailableStorage = sto;
    if (bw !== undefined) cr.AvailableBandwidth = bw;
    if (cpu !== undefined) cr.AvailableCPU = cpu;
    info.CommonResource = cr;
  }
  const cm = max(avails.map((a) => a.ResourceInfo.ComputeResource?.AvailableComputeMemory));
  if (cm !== undefined) info.ComputeResource = { AvailableComputeMemory: cm };
  if (video.size) {
    info.VideoProcessResource = [...video].map(([FormatName, e]) => ({ FormatName,
      ...(e.dec !== undefined ? { AvailDecodePerf: e.dec } : {}), ...(e.enc !== undefined ? { AvailEncodePerf: e.enc } : {}) }));
  }
  return { DeviceID: deviceId, ResourceInfo: info };
}

/**
 * Table 14 for the site: every algorithm version some executor holds, once. An invalid copy on
 * one executor does not hide a valid one elsewhere; "unused" (1) wins over "in use" (0), since
 * a new subtask can still start where it is unused.
 */
export function unionAlgorithms(devs: readonly DeviceState[]): AlgInfo[] {
  const byKey = new Map<string, AlgInfo>();
  for (const d of devs) for (const a of d.algs) {
    const k = `${a.AlgID}\n${a.AlgVersion}`;
    const cur = byKey.get(k);
    if (!cur || rank(a.AlgStatus) > rank(cur.AlgStatus)) byKey.set(k, a);
  }
  return [...byKey.values()].sort((a, b) => a.AlgID - b.AlgID || compareVersions(a.AlgVersion, b.AlgVersion));
}

/** Unused (1) before in use (0) before invalid (2) and extensions. */
function rank(status: number): number {
  return status === 1 ? 3 : status === 0 ? 2 : status === 2 ? 0 : 1;
}
