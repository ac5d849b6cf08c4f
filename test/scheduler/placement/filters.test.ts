/** Each feasibility filter on its own (S3, SR1, S1, S7): it passes what can run the subtask and names why it drops the rest. */
import t from 'tap';
import { online } from '../../../src/scheduler/placement/filters/online.ts';
import { enabled } from '../../../src/scheduler/placement/filters/enabled.ts';
import { commandUrl } from '../../../src/scheduler/placement/filters/command-url.ts';
import { excluded } from '../../../src/scheduler/placement/filters/excluded.ts';
import { deviceType } from '../../../src/scheduler/placement/filters/device-type.ts';
import { memory } from '../../../src/scheduler/placement/filters/memory.ts';
import { decode } from '../../../src/scheduler/placement/filters/decode.ts';
import { area } from '../../../src/scheduler/placement/filters/area.ts';
import { pinned } from '../../../src/scheduler/placement/filters/pinned.ts';
import { avail, cand } from '../../helpers/placement.ts';

t.test('S3: online, enabled and CommandURL filters', async (t) => {
  t.equal(online.check({}, cand('a')), null);
  t.equal(online.check({}, cand('a', { row: { online: 0 } })), 'offline');
  t.equal(enabled.check({}, cand('a')), null);
  t.equal(enabled.check({}, cand('a', { row: { enabled: 0 } })), 'disabled');
  t.equal(commandUrl.check({}, cand('a')), null);
  t.equal(commandUrl.check({}, cand('a', { row: { command_url: null } })), 'no CommandURL');
});

t.test('S7: the excluded executor is dropped, others pass', async (t) => {
  t.equal(excluded.check({ exclude: new Set(['a']) }, cand('a')), 'excluded');
  t.equal(excluded.check({ exclude: new Set(['a']) }, cand('b')), null);
  t.equal(excluded.check({}, cand('a')), null);
});

t.test('S1: a stage DeviceType filters executors of another type; none asked passes all', async (t) => {
  t.equal(deviceType.check({ deviceType: '2' }, cand('a')), 'DeviceType 1, stage wants 2');
  t.equal(deviceType.check({ deviceType: '1' }, cand('a')), null);
  t.equal(deviceType.check({}, cand('a', { row: { device_type: '2' } })), null);
});

t.test('SR1/S3: memory: reported AvailableMemory below the need drops; equal, unreported or no need passes', async (t) => {
  t.equal(memory.check({ memoryBytes: 1000 }, cand('a', { available: avail({ mem: 999 }) })), 'AvailableMemory 999 bytes, subtask needs 1000');
  t.equal(memory.check({ memoryBytes: 1000 }, cand('a', { available: avail({ mem: 1000 }) })), null);
  t.equal(memory.check({ memoryBytes: 1000 }, cand('a', { available: avail({ cpu: 5 }) })), null, 'memory not reported');
  t.equal(memory.check({ memoryBytes: 1000 }, cand('a')), null, 'no AvailableResource at all');
  t.equal(memory.check({}, cand('a', { available: avail({ mem: 0 }) })), null, 'no need stated');
});

t.test('SR1/S3: decode: the best format\'s AvailDecodePerf (1080P@1FPS units) must cover inputs × frame rate', async (t) => {
  t.equal(decode.check({ decodeUnits: 25 }, cand('a', { available: avail({}, [10, 24]) })), 'AvailDecodePerf 24 (1080P@1FPS units), subtask needs 25');
  t.equal(decode.check({ decodeUnits: 25 }, cand('a', { available: avail({}, [10, 25]) })), null, 'the best format is enough');
  t.equal(decode.check({ decodeUnits: 25 }, cand('a', { available: avail({}) })), null, 'capacity not reported');
  t.equal(decode.check({}, cand('a', { available: avail({}, [0]) })), null, 'a subtask that decodes nothing');
});

t.test('S3/SM2: area: executors outside the box, or without a registered location, are dropped', async (t) => {
  const box = { area: { lonMin: 116, lonMax: 117, latMin: 39, latMax: 40 } };
  t.equal(area.check(box, cand('in', { row: { longitude: '116.400000', latitude: '39.900000' } })), null);
  t.equal(area.check(box, cand('edge', { row: { longitude: '117.000000', latitude: '40.000000' } })), null, 'the border is inside');
  t.equal(area.check(box, cand('out', { row: { longitude: '121.470000', latitude: '31.230000' } })), 'at 121.470000,31.230000, outside the task\'s area');
  t.equal(area.check(box, cand('nowhere')), 'no Longitude/Latitude registered, task names an area');
  t.equal(area.check({}, cand('nowhere')), null, 'no area asked');
});

t.test('SB2: a pinned subtask passes only on the executor its input names', async (t) => {
  t.equal(pinned.check({}, cand('a')), null, 'not pinned: anyone');
  t.equal(pinned.check({ pinned: true, nearDeviceId: 'a' }, cand('a')), null);
  t.equal(pinned.check({ pinned: true, nearDeviceId: 'a' }, cand('b')), 'deployed on a only');
  t.equal(pinned.check({ pinned: true }, cand('a')), 'the input names no DeviceID to deploy on');
});
