/** Placement (S2, S3, M4): filters drop what cannot run; scoring balances load and prefers the data's own device. */
import t from 'tap';
import { candidates, rank, matchAlgorithm } from '../../src/scheduler/placement.ts';
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
  t.strictSame(rank({ ...req, nearDeviceId: 'a' }, cands).ranked[0].device.device_id, 'a', 'data locality outweighs load');
  t.strictSame(rank({ ...req, exclude: new Set(['b']) }, cands).ranked.map((c) => c.device.device_id), ['a']);
});
