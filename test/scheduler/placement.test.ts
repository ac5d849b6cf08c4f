/** Placement (S2, S3, M4): filters drop what cannot run; scoring balances load and prefers the data's own device. */
import t from 'tap';
import { candidates, rank, matchAlgorithm } from '../../src/scheduler/placement/index.ts';
import { compareVersions } from '../../src/protocol/index.ts';
import type { DeviceRow } from '../../src/scheduler/store.ts';

const dev = (id: string, algs: Array<{ AlgID: number; AlgType: string; AlgVersion: string; AlgStatus?: number }>, extra: Partial<DeviceRow> = {}): DeviceRow => ({
  device_id: id, device_type: '1', product_type: 'p', device_name: null, command_url: `http://${id}`, longitude: null, latitude: null,
  online: 1, enabled: 1, registered_at: 0, last_seen: 0, total_resource: null, available_resource: null,
  alg_resource: JSON.stringify({ DeviceID: id, AlgInfoList: algs.map((a) => ({ AlgStatus: 1, ...a })) }), alg_checked_at: 0, ...extra,
});

t.test('S2: by AlgType the highest version is chosen; invalid (AlgStatus 2) versions are never used', async (t) => {
  const a = matchAlgorithm({ algType: 'OCR' }, [
    { AlgID: 1, AlgType: 'ocr', AlgVersion: '1.9.0', AlgStatus: 1 },
    { AlgID: 1, AlgType: 'ocr', AlgVersion: '1.10.0', AlgStatus: 1 },
    { AlgID: 1, AlgType: 'ocr', AlgVersion: '2.0.0', AlgStatus: 2 },
  ]);
  t.equal(a?.AlgVersion, '1.10.0');
  t.ok(compareVersions('1.10.0', '1.9.9') > 0);
  t.equal(compareVersions('1.0', '1.0.0'), 0);
});

t.test('S3/M4: offline, disabled and excluded executors are filtered; load and locality rank the rest', async (t) => {
  const fx = [{ AlgID: 1001, AlgType: 'frame_extraction', AlgVersion: '1.0.0' }];
  const devices = [dev('a', fx), dev('b', fx), dev('c', fx, { online: 0 }), dev('d', fx, { enabled: 0 }), dev('e', [{ AlgID: 9, AlgType: 'other', AlgVersion: '1' }])];
  const req = { algType: 'frame_extraction' };
  const cands = candidates(req, devices, new Map([['a', 3], ['b', 0]]));
  t.strictSame(cands.map((c) => c.device.device_id).sort(), ['a', 'b', 'c', 'd'], 'e lacks the algorithm');
  const { ranked, rejected } = rank(req, cands);
  t.strictSame(ranked.map((c) => c.device.device_id), ['b', 'a'], 'the idle executor first');
  t.strictSame(rejected.map((r) => `${r.deviceId}:${r.why}`).sort(), ['c:offline', 'd:disabled']);
  t.strictSame(rank({ ...req, nearDeviceId: 'a' }, cands).ranked[0]?.device.device_id, 'a', 'data locality outweighs load');
  t.strictSame(rank({ ...req, exclude: new Set(['b']) }, cands).ranked.map((c) => c.device.device_id), ['a']);
});

// The cases below pin each filter, scorer and default on its own (they were found by mutation
// testing, docs/MUTATION.md: every one of them survived a change to placement.ts before).

t.test('S2: by AlgID only that algorithm is used; AlgID and AlgType must both match when both are asked; none matching is undefined', async (t) => {
  const algs = [
    { AlgID: 7, AlgType: 'ocr', AlgVersion: '3.0.0', AlgStatus: 1 },
    { AlgID: 8, AlgType: 'ocr', AlgVersion: '1.0.0', AlgStatus: 1 },
    { AlgID: 8, AlgType: 'plate', AlgVersion: '9.0.0', AlgStatus: 1 },
  ];
  t.equal(matchAlgorithm({ algId: 8, algType: 'OCR' }, algs)?.AlgVersion, '1.0.0', 'AlgID 8 of type ocr, not the newer ocr of AlgID 7 nor the newer AlgID 8 of another type');
  t.equal(matchAlgorithm({ algId: 8 }, algs)?.AlgType, 'plate', 'AlgID alone: its highest version');
  t.equal(matchAlgorithm({}, algs)?.AlgVersion, '9.0.0', 'nothing asked: the highest version of all');
  t.equal(matchAlgorithm({ algId: 9 }, algs), undefined);
  t.equal(matchAlgorithm({ algType: 'face' }, algs), undefined);
});

t.test('S3: an executor without a CommandURL, or of another DeviceType than the stage wants, is filtered with its reason', async (t) => {
  const fx = [{ AlgID: 1001, AlgType: 'frame_extraction', AlgVersion: '1.0.0' }];
  const cands = candidates({}, [dev('edge', fx), dev('cloud', fx, { device_type: '2' }), dev('mute', fx, { command_url: null })], new Map());
  const all = rank({}, cands);
  t.strictSame(all.ranked.map((c) => c.device.device_id), ['cloud', 'edge'], 'no DeviceType asked: both types pass (equal scores: by id)');
  t.strictSame(all.rejected, [{ deviceId: 'mute', why: 'no CommandURL' }]);
  const cloud = rank({ deviceType: '2' }, cands);
  t.strictSame(cloud.ranked.map((c) => c.device.device_id), ['cloud']);
  t.strictSame(cloud.rejected, [{ deviceId: 'edge', why: 'DeviceType 1, stage wants 2' }, { deviceId: 'mute', why: 'no CommandURL' }]);
  t.strictSame(rank({ exclude: new Set(['edge']) }, cands).rejected, [{ deviceId: 'edge', why: 'excluded' }, { deviceId: 'mute', why: 'no CommandURL' }]);
});

t.test('candidates: an executor that reported no algorithms is left out; active defaults to 0 and idle CPU to 50 when unreported', async (t) => {
  const fx = [{ AlgID: 1001, AlgType: 'frame_extraction', AlgVersion: '1.0.0' }];
  const res = (cpu?: number, common = true) => JSON.stringify({ DeviceID: 'x', ResourceInfo: { IsValid: '1', ...(common ? { CommonResource: cpu === undefined ? {} : { AvailableCPU: cpu } } : {}) } });
  const cands = candidates({ algId: 1001 }, [
    dev('none', fx, { alg_resource: null }),
    dev('busy', fx, { available_resource: res(20) }),
    dev('quiet', fx),
    dev('nocpu', fx, { available_resource: res() }),
    dev('nocommon', fx, { available_resource: res(undefined, false) }),
  ], new Map([['busy', 2]]));
  t.strictSame(cands.map((c) => [c.device.device_id, c.active, c.availableCpu, c.alg.AlgID]), [
    ['busy', 2, 20, 1001], ['quiet', 0, 50, 1001], ['nocpu', 0, 50, 1001], ['nocommon', 0, 50, 1001],
  ]);
});

t.test('M4: scores: fewer active subtasks first at any load, then idle CPU, then the device id; load outweighs CPU, locality outweighs both', async (t) => {
  const fx = [{ AlgID: 1001, AlgType: 'frame_extraction', AlgVersion: '1.0.0' }];
  const c = (id: string, active: number, availableCpu: number) => ({ device: dev(id, fx), alg: { AlgID: 1001, AlgType: 'frame_extraction', AlgVersion: '1.0.0', AlgStatus: 1 }, active, availableCpu });
  const ids = (r: { ranked: Array<{ device: { device_id: string } }> }) => r.ranked.map((x) => x.device.device_id);
  t.strictSame(ids(rank({}, [c('three', 3, 50), c('two', 2, 50)])), ['two', 'three'], 'two active before three (the load score falls with every subtask, not only from 0 to 1)');
  t.strictSame(ids(rank({}, [c('low', 1, 10), c('high', 1, 90)])), ['high', 'low'], 'same load: more idle CPU first');
  t.strictSame(ids(rank({}, [c('loaded', 1, 100), c('idle', 0, 0)])), ['idle', 'loaded'], 'one subtask fewer outweighs all the CPU');
  t.strictSame(ids(rank({}, [c('z', 1, 50), c('m', 1, 50), c('b', 1, 50)])), ['b', 'm', 'z'], 'equal scores: by device id');
  t.strictSame(ids(rank({ nearDeviceId: 'near' }, [c('far', 0, 100), c('near', 5, 0)])), ['near', 'far'], 'locality outweighs load and CPU together');
  t.strictSame(ids(rank({ nearDeviceId: 'elsewhere' }, [c('b', 1, 50), c('a', 2, 50)])), ['b', 'a'], 'a device that is not a candidate changes nothing');
});
