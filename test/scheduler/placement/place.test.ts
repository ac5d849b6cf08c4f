/** place(request, view) → Plan (S2, S3, M4): candidates from the view, the repository when nobody has the algorithm, and the task's wishes. */
import t from 'tap';
import { place, placementWishes, scoreCount } from '../../../src/scheduler/placement/index.ts';
import { FX, accelReports, avail, gpu, row, view } from '../../helpers/placement.ts';

const dev = (id: string, extra: Parameters<typeof row>[1] = {}, algs = [FX]) => ({ row: row(id, extra), algs, listed: true });
const ids = (p: { ranked: Array<{ device: { device_id: string } }> }) => p.ranked.map((c) => c.device.device_id);

t.test('S2/M4: executors offering the algorithm, ranked by load from the view', async (t) => {
  const p = place({ algType: 'FRAME_EXTRACTION' }, view([dev('a'), dev('b'), dev('c', { online: 0 }), dev('d', {}, [])], { active: { a: 2 } }));
  t.strictSame(ids(p), ['b', 'a']);
  t.strictSame(p.rejected, [{ deviceId: 'c', why: 'offline' }]);
  t.equal(p.fromRepository, false);
  t.equal(p.ranked[0]?.active, 0);
  t.equal(p.ranked[1]?.active, 2);
});

t.test('S2: nobody has it: every executor may download the published version; without one, no plan', async (t) => {
  const pub = { AlgID: 7, AlgType: 'ocr', AlgVersion: '2.0.0', AlgStatus: 0 };
  const devices = [dev('a'), { row: row('b'), algs: [], listed: false }];
  const p = place({ algId: 7 }, view(devices, { published: pub }));
  t.strictSame(ids(p), ['a', 'b']);
  t.equal(p.fromRepository, true);
  t.ok(p.ranked.every((c) => c.download && c.alg.AlgVersion === '2.0.0'));
  t.strictSame(ids(place({ algId: 7 }, view(devices))), []);
  t.strictSame(ids(place({ algId: 1001 }, view(devices, { published: pub }))), ['a'], 'an executor that lists no algorithms is no candidate for its own copy');
});

t.test('SR1/S3: reported memory and decode capacity, and the area, drop executors', async (t) => {
  const devices = [
    { ...dev('small', { longitude: '116.5', latitude: '39.5' }), available: avail({ mem: 500 }) },
    { ...dev('slow', { longitude: '116.5', latitude: '39.5' }), available: avail({ mem: 4096 }, [5]) },
    { ...dev('far', { longitude: '10', latitude: '10' }), available: avail({ mem: 4096 }, [50]) },
    { ...dev('ok', { longitude: '116.5', latitude: '39.5' }), available: avail({ mem: 4096 }, [50]) },
  ];
  const p = place({ algId: 1001, memoryBytes: 1024 ** 3, decodeUnits: 25, area: { lonMin: 116, lonMax: 117, latMin: 39, latMax: 40 } }, view(devices));
  t.strictSame(ids(p), ['ok']);
  t.strictSame(p.rejected.map((r) => `${r.deviceId}:${r.why.split(' ')[0]}`), ['small:AvailableMemory', 'slow:AvailDecodePerf', 'far:at']);
});

t.test('SR1/S3/SR4: a GPU subtask is placed by the reported accelerators: not on a box without a GPU, not on a full one', async (t) => {
  const devices = [
    { ...dev('cpu-only'), ...accelReports([]) },
    { ...dev('gpu-full'), ...accelReports([gpu(0)], [gpu(0, { AvailableMemoryMB: 200, UtilizationGpu: 97 })]) },
    { ...dev('gpu-free'), ...accelReports([gpu(0), gpu(1)], [gpu(0, { UtilizationGpu: 100 }), gpu(1, { AvailableMemoryMB: 16000, UtilizationGpu: 20 })]) },
  ];
  const wishes = placementWishes({ Accelerator: 'cuda', AcceleratorMemoryMB: 4096 }, { Inputs: [{ StreamURL: 'rtsp://x' }] });
  t.ok(wishes.ok);
  const p = place({ algId: 1001, ...(wishes.ok ? wishes.value : {}) }, view(devices));
  t.strictSame(ids(p), ['gpu-free']);
  t.strictSame(p.rejected, [
    { deviceId: 'cpu-only', why: 'no GPU reported, subtask needs cuda' },
    { deviceId: 'gpu-full', why: 'every cuda GPU is full: GPU 0 AvailableMemoryMB 200 < 4096' },
  ]);
  t.strictSame(ids(place({ algId: 1001 }, view(devices))).sort(), ['cpu-only', 'gpu-free', 'gpu-full'], 'a task that asks for no accelerator goes anywhere');
});

t.test('M5: Constraints name the strategy, memory and area; bad values are refused naming the field', async (t) => {
  const custom = { Inputs: [{ StreamURL: 'rtsp://x' }], TaskFrameRate: 5 };
  t.strictSame(placementWishes(undefined, custom), { ok: true, value: { decodeUnits: 5 } });
  t.strictSame(placementWishes({ Strategy: 'bin-packing', MemoryBytes: 10, LongitudeMin: '116', LongitudeMax: 117, LatitudeMin: 39, LatitudeMax: '40' }, { Inputs: custom.Inputs }),
    { ok: true, value: { decodeUnits: 1, strategy: 'bin-packing', memoryBytes: 10, area: { lonMin: 116, lonMax: 117, latMin: 39, latMax: 40 } } });
  const bad = (c: Record<string, unknown>) => { const r = placementWishes(c, custom); return r.ok ? '' : r.message; };
  t.match(bad({ Strategy: 'fastest' }), /^Constraints\.Strategy: "fastest" is not a strategy; use one of balanced, bin-packing, round-robin/);
  t.match(bad({ MemoryBytes: -1 }), /^Constraints\.MemoryBytes/);
  t.match(bad({ Accelerator: 'rocm' }), /^Constraints\.Accelerator: "rocm" is not an accelerator; use one of cpu, cuda, tensorrt, openvino, any$/);
  t.match(bad({ AcceleratorMemoryMB: 1.5 }), /^Constraints\.AcceleratorMemoryMB: must be a whole number of MB ≥ 0$/);
  t.match(bad({ LongitudeMin: 1 }), /^Constraints\.LongitudeMax: an area needs all four/);
  t.match(bad({ LongitudeMin: 2, LongitudeMax: 1, LatitudeMin: 0, LatitudeMax: 1 }), /must not exceed/);
  t.match(bad({ LongitudeMin: 0, LongitudeMax: 181, LatitudeMin: 0, LatitudeMax: 1 }), /within ±180/);
});

t.test('M4 at fleet scale: past 100 feasible executors a page is chosen from a rotating window of 100 (Kubernetes\' floor); the data\'s own device is always seen', async (t) => {
  t.strictSame([50, 100, 101, 1000, 2500, 10000].map(scoreCount), [50, 100, 100, 100, 100, 100]);
  const fleet = Array.from({ length: 2500 }, (_, i) => dev(`d${String(i).padStart(4, '0')}`));
  const first = place({ algId: 1001 }, view(fleet, { seq: 0 }), 16);
  t.equal(first.ranked.length, 16);
  t.equal(first.ranked[0]?.device.device_id, 'd0000', 'the first window (100 executors) starts at the start');
  t.equal(place({ algId: 1001 }, view(fleet, { seq: 1 }), 16).ranked[0]?.device.device_id, 'd0100', 'the next placement looks at the next window');
  t.equal(place({ algId: 1001 }, view(fleet, { seq: 24 }), 16).ranked[0]?.device.device_id, 'd2400', 'the 25th window is the fleet\'s last');
  t.equal(place({ algId: 1001 }, view(fleet, { seq: 25 }), 16).ranked[0]?.device.device_id, 'd0000', 'and then it wraps around');
  t.equal(place({ algId: 1001, nearDeviceId: 'd2400' }, view(fleet, { seq: 0 }), 16).ranked[0]?.device.device_id, 'd2400', 'locality outside the window');
  t.equal(place({ algId: 1001 }, view(fleet)).ranked.length, 2500, 'a full ranking (no limit) sees everyone');
  const small = fleet.slice(0, 100);
  t.equal(place({ algId: 1001 }, view(small, { active: { d0000: 1 }, seq: 5 }), 16).ranked[0]?.device.device_id, 'd0001', 'a fleet of up to 100 is scored whole: the best wins');
});

t.test('M5: Strategy round-robin through place(): the executor given a subtask longest ago comes first; balanced ignores the order', async (t) => {
  const devices = [dev('a'), dev('b'), dev('c')];
  const last = { a: 7, b: 3, c: 5 };
  t.strictSame(ids(place({ algId: 1001, strategy: 'round-robin' }, view(devices, { last, seq: 8 }))), ['b', 'c', 'a']);
  t.strictSame(ids(place({ algId: 1001, strategy: 'round-robin' }, view(devices, { last, seq: 8 }), 2)), ['b', 'c'], 'a paged placement too');
  t.strictSame(ids(place({ algId: 1001 }, view(devices, { last, seq: 8 }))), ['a', 'b', 'c'], 'balanced: all idle, ties by DeviceID');
});
