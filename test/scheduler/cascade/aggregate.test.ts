/** 5.2, 9.2: what a lower scheduler reports of its site, and the filters of tables 2 and 5 as a scheduler applies them. */
import t from 'tap';
import { aggregateAvailable, aggregateTotal, siteDevices, unionAlgorithms } from '../../../src/scheduler/cascade/aggregate.ts';
import { matchesResourceFilters as matches } from '../../../src/protocol/resource-filters.ts';
import type { DeviceState } from '../../../src/scheduler/devices.ts';
import type { DeviceRow } from '../../../src/scheduler/store.ts';
import type { AlgInfo, AvailableResource, TotalResource } from '../../../src/protocol/index.ts';

function device(id: string, o: { online?: number; enabled?: number; total?: TotalResource['ResourceInfo']; available?: AvailableResource['ResourceInfo']; algs?: AlgInfo[]; lon?: string; lat?: string } = {}): DeviceState {
  const row: DeviceRow = { device_id: id, device_type: '1', product_type: 'x86', device_name: null, command_url: `http://${id}`, longitude: o.lon ?? null, latitude: o.lat ?? null,
    online: o.online ?? 1, enabled: o.enabled ?? 1, registered_at: 0, last_seen: 0, total_resource: null, available_resource: null, alg_resource: null, alg_checked_at: 0 };
  return { row, algs: o.algs ?? [], listed: true, matched: new Map(),
    ...(o.total ? { total: { DeviceID: id, DeviceType: '1', ProductType: 'x86', ResourceInfo: o.total } } : {}),
    ...(o.available ? { available: { DeviceID: id, ResourceInfo: o.available } } : {}) };
}
const alg = (AlgID: number, AlgVersion: string, AlgStatus: number): AlgInfo => ({ AlgID, AlgType: `t${AlgID}`, AlgVersion, AlgStatus });

t.test('5.2: TotalResource of a site is the sum of its online, enabled executors\' (VideoProcessResource per format), with the best compute', async (t) => {
  const devs = siteDevices([
    device('a', { total: { IsValid: 'Y', CommonResource: { TotalMemory: 8, TotalStorage: 100, TotalBandwidth: 1 }, ComputeResource: { Chip: 'cpu', TotalPower: [] },
      VideoProcessResource: [{ FormatName: 'H264', Decoding: { MaxResolution: '1080P', MaxPerf: 30 } }] } }),
    device('b', { total: { IsValid: 'Y', CommonResource: { TotalMemory: 16, TotalStorage: 50, TotalBandwidth: 2 }, ComputeResource: { Chip: 'gpu', TotalPower: [], TotalComputeMemory: 24 },
      VideoProcessResource: [{ FormatName: 'H264', Decoding: { MaxResolution: '4K', MaxPerf: 60 } }, { FormatName: 'H265', Encoding: { MaxResolution: '1080P', MaxPerf: 5 } }] } }),
    device('off', { online: 0, total: { IsValid: 'Y', CommonResource: { TotalMemory: 1000, TotalStorage: 0, TotalBandwidth: 0 } } }),
    device('disabled', { enabled: 0, total: { IsValid: 'Y', CommonResource: { TotalMemory: 1000, TotalStorage: 0, TotalBandwidth: 0 } } }),
  ]);
  const total = aggregateTotal('site', '1', devs);
  t.match(total, { DeviceID: 'site', DeviceType: '1', ProductType: 'retinad-scheduler', ResourceInfo: { IsValid: 'Y', CommonResource: { TotalMemory: 24, TotalStorage: 150, TotalBandwidth: 3 }, ComputeResource: { Chip: 'gpu' }, ExtendInfo: { Executors: 2 } } });
  t.strictSame(total.ResourceInfo.VideoProcessResource, [
    { FormatName: 'H264', Decoding: { MaxResolution: '1080P', MaxPerf: 90 } },
    { FormatName: 'H265', Encoding: { MaxResolution: '1080P', MaxPerf: 5 } },
  ]);
  t.equal(aggregateTotal('site', '2', []).ResourceInfo.IsValid, 'N', 'no executor: not valid');
});

t.test('5.2: AvailableResource of a site is, per field, the best single executor (what one subtask can get); sums in ExtendInfo', async (t) => {
  const avail = aggregateAvailable('site', [
    device('a', { available: { IsValid: 'Y', CommonResource: { AvailableMemory: 4, AvailableCPU: 90 }, VideoProcessResource: [{ FormatName: 'H264', AvailDecodePerf: 10 }] } }),
    device('b', { available: { IsValid: 'Y', CommonResource: { AvailableMemory: 6, AvailableCPU: 20 }, ComputeResource: { AvailableComputeMemory: 7 }, VideoProcessResource: [{ FormatName: 'H264', AvailDecodePerf: 25 }] } }),
  ]);
  t.strictSame(avail.ResourceInfo.CommonResource, { AvailableMemory: 6, AvailableCPU: 90 });
  t.strictSame(avail.ResourceInfo.VideoProcessResource, [{ FormatName: 'H264', AvailDecodePerf: 25 }]);
  t.strictSame(avail.ResourceInfo.ComputeResource, { AvailableComputeMemory: 7 });
  t.match(avail.ResourceInfo.ExtendInfo, { Executors: 2, SumAvailableMemory: 10 });
});

t.test('SR3 / 9.4: the site\'s algorithms are the union, each version once; "unused" wins over "in use", a valid copy over an invalid one', async (t) => {
  const u = unionAlgorithms([device('a', { algs: [alg(1, '1.0', 0), alg(2, '1.0', 2)] }), device('b', { algs: [alg(1, '1.0', 1), alg(2, '1.0', 0), alg(1, '2.0', 0)] })]);
  t.strictSame(u.map((a) => [a.AlgID, a.AlgVersion, a.AlgStatus]), [[1, '1.0', 1], [1, '2.0', 0], [2, '1.0', 0]]);
});

t.test('9.2 tables 2/5: ProductType, Chip (contained), DriverVersion, the Longitude/Latitude box and ExtendCond, each naming what must match', async (t) => {
  const d = device('a', { lon: '116.400000', lat: '39.900000', total: { IsValid: 'Y', ComputeResource: { Chip: 'NVIDIA H200', DriverVersion: '550', TotalPower: [] }, ExtendInfo: { Zone: 'north' } } });
  const total = d.total;
  const box = { LongitudeMin: '116.000000', LongitudeMax: '117.000000', LatitudeMin: '39.000000', LatitudeMax: '40.000000' };
  t.ok(matches({ ProductType: 'x86', Chip: 'H200', DriverVersion: '550', ...box, ExtendCond: { Zone: 'north' } }, total, d.row), 'all match');
  t.notOk(matches({ ProductType: 'arm' }, total, d.row), 'ProductType');
  t.notOk(matches({ Chip: 'A100' }, total, d.row), 'Chip');
  t.notOk(matches({ DriverVersion: '535' }, total, d.row), 'DriverVersion');
  t.notOk(matches({ ...box, LongitudeMin: '116.500000' }, total, d.row), 'outside the box');
  t.notOk(matches(box, total, { longitude: null, latitude: null }), 'no location: outside any box');
  t.notOk(matches(box, total, undefined), 'unknown location (a scheduler\'s own aggregate)');
  t.notOk(matches({ ExtendCond: { Zone: 'south' } }, total, d.row), 'ExtendCond');
  t.ok(matches({}, undefined, undefined), 'no filter: everyone');
});
