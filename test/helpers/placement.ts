/** Candidates and views for the placement unit tests. */
import type { AcceleratorInfo, AlgInfo, AvailableResource, TotalResource } from '../../src/protocol/index.ts';
import type { Candidate, PlacementView, ViewDevice } from '../../src/scheduler/placement/index.ts';
import type { DeviceRow } from '../../src/scheduler/store.ts';

export const FX: AlgInfo = { AlgID: 1001, AlgType: 'frame_extraction', AlgVersion: '1.0.0', AlgStatus: 1 };

export function row(id: string, extra: Partial<DeviceRow> = {}): DeviceRow {
  return { device_id: id, device_type: '1', product_type: 'p', device_name: null, command_url: `http://${id}`, longitude: null, latitude: null,
    online: 1, enabled: 1, registered_at: 0, last_seen: 0, total_resource: null, available_resource: null, alg_resource: null, alg_checked_at: 0, ...extra };
}

export function avail(common: { mem?: number; cpu?: number } = {}, decode?: number[]): AvailableResource {
  return { DeviceID: 'x', ResourceInfo: { IsValid: 'Y',
    CommonResource: { ...(common.mem !== undefined ? { AvailableMemory: common.mem } : {}), ...(common.cpu !== undefined ? { AvailableCPU: common.cpu } : {}) },
    ...(decode ? { VideoProcessResource: decode.map((p) => ({ FormatName: 'h264', AvailDecodePerf: p })) } : {}) } };
}

/** A GPU as an executor reports it (ExtendInfo.Accelerators); `live` adds table 7's figures. */
export function gpu(index: number, o: Partial<AcceleratorInfo> = {}): AcceleratorInfo {
  return { Index: index, Kind: 'gpu', Name: 'NVIDIA L4', ExecutionProviders: ['cuda'], TotalMemoryMB: 23034, ...o };
}

/** TotalResource and AvailableResource of an executor with these accelerators (live: the AvailableResource list). */
export function accelReports(total: AcceleratorInfo[], live?: AcceleratorInfo[], providers = ['cpu', 'cuda']): { total: TotalResource; available?: AvailableResource } {
  const t: TotalResource = { DeviceID: 'x', DeviceType: '1', ResourceInfo: { IsValid: 'Y', ExtendInfo: { Accelerators: total, ExecutionProviders: providers } } };
  return { total: t, ...(live ? { available: { DeviceID: 'x', ResourceInfo: { IsValid: 'Y', ExtendInfo: { Accelerators: live } } } } : {}) };
}

export function cand(id: string, o: Partial<Candidate> & { row?: Partial<DeviceRow> } = {}): Candidate {
  const { row: r, ...rest } = o;
  return { device: row(id, r), alg: FX, active: 0, availableCpu: 50, ...rest };
}

/** A view over fixed devices (every device "offers" what it lists). */
export function view(devices: ViewDevice[], o: { active?: Record<string, number>; published?: AlgInfo; last?: Record<string, number>; seq?: number } = {}): PlacementView {
  return {
    devicesFor: () => devices,
    devices: () => devices,
    device: (id) => devices.find((d) => d.row.device_id === id),
    activeCount: (id) => o.active?.[id] ?? 0,
    lastPlaced: (id) => o.last?.[id] ?? -1,
    seq: () => o.seq ?? 0,
    published: () => o.published,
  };
}
