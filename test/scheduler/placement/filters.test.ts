/** Each feasibility filter on its own (S3, SR1, S1, S7): it passes what can run the subtask and names why it drops the rest. */
import t from 'tap';
import fc from 'fast-check';
import { online } from '../../../src/scheduler/placement/filters/online.ts';
import { enabled } from '../../../src/scheduler/placement/filters/enabled.ts';
import { commandUrl } from '../../../src/scheduler/placement/filters/command-url.ts';
import { excluded } from '../../../src/scheduler/placement/filters/excluded.ts';
import { avoided } from '../../../src/scheduler/placement/filters/avoided.ts';
import { deviceType } from '../../../src/scheduler/placement/filters/device-type.ts';
import { memory } from '../../../src/scheduler/placement/filters/memory.ts';
import { decode } from '../../../src/scheduler/placement/filters/decode.ts';
import { area } from '../../../src/scheduler/placement/filters/area.ts';
import { pinned } from '../../../src/scheduler/placement/filters/pinned.ts';
import { accelerator } from '../../../src/scheduler/placement/filters/accelerator.ts';
import { accelReports, avail, cand, gpu } from '../../helpers/placement.ts';

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

t.test('B.3 step 4: a device the task avoids (Constraints.AvoidDevices: the lower scheduler that asked for help) is dropped, naming why; others pass', async (t) => {
  t.equal(avoided.check({ avoid: ['lower-a'] }, cand('lower-a')), 'the task asks to avoid it (Constraints.AvoidDevices)');
  t.equal(avoided.check({ avoid: ['lower-a'] }, cand('lower-b')), null);
  t.equal(avoided.check({}, cand('lower-a')), null);
});

t.test('S1: a stage DeviceType filters executors of another type; none asked passes all', async (t) => {
  t.equal(deviceType.check({ deviceType: '2' }, cand('a')), 'DeviceType 1, stage wants 2');
  t.equal(deviceType.check({ deviceType: '1' }, cand('a')), null);
  t.equal(deviceType.check({}, cand('a', { row: { device_type: '2' } })), null);
});

t.test('SR1/S3: memory: reported AvailableMemory (MB, table 7) below the need (bytes) drops; equal, unreported or no need passes', async (t) => {
  const MiB = 1024 * 1024;
  t.equal(memory.check({ memoryBytes: 1000 * MiB }, cand('a', { available: avail({ mem: 999 }) })), 'AvailableMemory 999 MB, subtask needs 1000 MB');
  t.equal(memory.check({ memoryBytes: 1000 * MiB }, cand('a', { available: avail({ mem: 1000 }) })), null, 'exactly enough');
  t.equal(memory.check({ memoryBytes: 1000 * MiB + 1 }, cand('a', { available: avail({ mem: 1000 }) })), 'AvailableMemory 1000 MB, subtask needs 1001 MB', 'a byte over is over');
  t.equal(memory.check({ memoryBytes: 1000 }, cand('a', { available: avail({ mem: 1 }) })), null, '1 MB holds 1000 bytes: the units are not mixed');
  t.equal(memory.check({ memoryBytes: 1000 * MiB }, cand('a', { available: avail({ cpu: 5 }) })), null, 'memory not reported');
  t.equal(memory.check({ memoryBytes: 1000 * MiB }, cand('a')), null, 'no AvailableResource at all');
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

t.test('SR1/S3/SR4: accelerator: a GPU task needs a reported GPU its ONNX Runtime runs the provider on, and not a full one', async (t) => {
  const cuda = { accelerator: 'cuda' as const };
  t.equal(accelerator.check(cuda, cand('cpu-box', accelReports([]))), 'no GPU reported, subtask needs cuda');
  t.equal(accelerator.check(cuda, cand('old-executor')), 'no GPU reported, subtask needs cuda', 'an executor that reports no accelerators at all');
  t.equal(accelerator.check(cuda, cand('cpu-ort', accelReports([gpu(0, { ExecutionProviders: [] })]))), 'no GPU it can run cuda on (its ONNX Runtime offers none there)', 'a GPU with a CPU-only ONNX Runtime');
  t.equal(accelerator.check({ accelerator: 'tensorrt' }, cand('no-trt', accelReports([gpu(0)]))), 'no GPU it can run tensorrt on (its ONNX Runtime offers cuda there)');
  t.equal(accelerator.check(cuda, cand('gpu', accelReports([gpu(0)]))), null, 'a GPU without live figures passes on presence');
  t.equal(accelerator.check(cuda, cand('free', accelReports([gpu(0)], [gpu(0, { AvailableMemoryMB: 20000, UtilizationGpu: 30 })]))), null);
  t.equal(accelerator.check(cuda, cand('full-mem', accelReports([gpu(0)], [gpu(0, { AvailableMemoryMB: 300, UtilizationGpu: 10 })]))), 'every cuda GPU is full: GPU 0 AvailableMemoryMB 300 < 512', 'default need 512 MB');
  t.equal(accelerator.check({ ...cuda, acceleratorMemoryMB: 256 }, cand('small-need', accelReports([gpu(0)], [gpu(0, { AvailableMemoryMB: 300 })]))), null, 'a stated need that fits');
  t.equal(accelerator.check(cuda, cand('busy', accelReports([gpu(0), gpu(1)], [gpu(0, { AvailableMemoryMB: 20000, UtilizationGpu: 99 }), gpu(1, { AvailableMemoryMB: 100, UtilizationGpu: 0 })]))),
    'every cuda GPU is full: GPU 0 UtilizationGpu 99%; GPU 1 AvailableMemoryMB 100 < 512');
  t.equal(accelerator.check(cuda, cand('one-left', accelReports([gpu(0), gpu(1)], [gpu(0, { UtilizationGpu: 100 }), gpu(1, { AvailableMemoryMB: 8000, UtilizationGpu: 40 })]))), null, 'one GPU with room is enough');
  const junk = { total: { DeviceID: 'x', DeviceType: '1' as const, ResourceInfo: { IsValid: 'Y' as const, ExtendInfo: { Accelerators: [{ Index: 'zero', Kind: 'gpu' }] } } } };
  t.equal(accelerator.check(cuda, cand('vendor', junk)), 'no GPU reported, subtask needs cuda', 'another vendor\'s ExtendInfo.Accelerators is not ours: not read');
  t.equal(accelerator.check({ accelerator: 'openvino' }, cand('ov', accelReports([], undefined, ['cpu', 'openvino']))), null);
  t.equal(accelerator.check({ accelerator: 'openvino' }, cand('no-ov', accelReports([]))), 'no openvino execution provider reported, subtask needs openvino');
  for (const a of ['cpu', 'any', undefined] as const) t.equal(accelerator.check({ accelerator: a }, cand('cpu-box', accelReports([]))), null, `${a ?? 'nothing'} asked: any executor`);
});

t.test('S3: a filter that says it does not apply to a request passes every executor for it (placement skips it then)', async (t) => {
  const { FILTERS, filtersFor } = await import('../../../src/scheduler/placement/index.ts');
  const ids = ['a', 'b', 'c'];
  const req = fc.record({
    pinned: fc.boolean(), nearDeviceId: fc.constantFrom(...ids), exclude: fc.uniqueArray(fc.constantFrom(...ids)).map((x) => new Set(x)),
    avoid: fc.uniqueArray(fc.constantFrom(...ids)), deviceType: fc.constantFrom('0', '1', '2'), memoryBytes: fc.nat(2 ** 34), decodeUnits: fc.nat(64),
    area: fc.record({ lonMin: fc.integer({ min: -180, max: 0 }), lonMax: fc.integer({ min: 0, max: 180 }), latMin: fc.integer({ min: -90, max: 0 }), latMax: fc.integer({ min: 0, max: 90 }) }),
    accelerator: fc.constantFrom('cpu', 'any', 'cuda', 'tensorrt', 'openvino'), acceleratorMemoryMB: fc.nat(80_000),
  }, { requiredKeys: [] });
  const candidate = fc.record({ id: fc.constantFrom(...ids), type: fc.constantFrom('0', '1', '2'), mem: fc.nat(65_536), decode: fc.array(fc.nat(64), { maxLength: 3 }),
    lon: fc.option(fc.integer({ min: -180, max: 180 })), lat: fc.option(fc.integer({ min: -90, max: 90 })), gpus: fc.boolean(), online: fc.boolean() });
  let skipped = 0;
  fc.assert(fc.property(req, candidate, (r, x) => {
    const c = cand(x.id, { row: { device_type: x.type, online: x.online ? 1 : 0, longitude: x.lon === null ? null : String(x.lon), latitude: x.lat === null ? null : String(x.lat) },
      available: avail({ mem: x.mem }, x.decode), ...(x.gpus ? accelReports([gpu(0)]) : {}) });
    const kept = filtersFor(r as never);
    for (const f of FILTERS) {
      if (kept.includes(f)) continue;
      skipped++;
      if (f.check(r as never, c) !== null) return false;
    }
    return true;
  }), { numRuns: 500 });
  t.ok(skipped > 0, 'some filters were skipped');
  t.strictSame(filtersFor({}).map((f) => f.name), ['online', 'enabled', 'command-url'], 'a plain request checks presence only');
});
