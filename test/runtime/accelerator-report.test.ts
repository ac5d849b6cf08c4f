/**
 * ER1 / ER4 (issue 15): tables 4 and 7 report every accelerator in ExtendInfo.Accelerators —
 * per-GPU memory, utilisation and NVDEC engines, the providers ONNX Runtime can run on it, our
 * hardware decode sessions — in the shape placement reads (protocol/accelerator.ts). The
 * figures come from the facts given (a GPU box's, here without one) and from this box's own probe.
 */
import t from 'tap';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { acceleratorAvailability, acceleratorTotals, gpuCompute } from '../../src/runtime/accelerator-report.ts';
import { hostAccelerators, npus } from '../../src/runtime/accelerators.ts';
import { ResourceMonitor } from '../../src/runtime/resources.ts';
import { AcceleratorList, AvailableResource, TotalResource, parse } from '../../src/protocol/index.ts';
import type { HostAccelerators, ProviderSupport } from '../../src/plugins/providers.ts';
import type { ProbeResult } from '../../src/runtime/media/native.ts';

const HOST: HostAccelerators = {
  gpus: [{ index: 0, name: 'NVIDIA L4', uuid: 'GPU-aaaa', memoryTotalMB: 23034, memoryFreeMB: 22000 }, { index: 1, name: 'NVIDIA L4', memoryTotalMB: 23034, memoryFreeMB: 100 }],
  renderNodes: ['/dev/dri/renderD128'], npus: ['/dev/accel/accel0 (intel_vpu)'],
};
const PROBE = { cpu: { arch: 'x86_64', flags: [] }, nvml: { available: true }, vaapi: { libva: true, renderNodes: [] },
  cuda: { available: true, nvdec: { available: true, codecs: [{ format: 'H.264', maxWidth: 8192, maxHeight: 8192, engines: 4 }, { format: 'H.265', maxWidth: 8192, maxHeight: 8192, engines: 4 }] } } } satisfies ProbeResult;
const GPU_BUILD: ProviderSupport = { cpu: { ok: true }, cuda: { ok: true }, tensorrt: { ok: false, reason: 'no libnvinfer' }, openvino: { ok: false } };

t.test('ER1/ER4: TotalResource lists each GPU (memory, NVDEC, providers), render node and NPU', async (t) => {
  const total = acceleratorTotals(HOST, PROBE, GPU_BUILD);
  t.ok(parse(AcceleratorList, total).ok, 'valid against the shared schema');
  t.match(total, [
    { Index: 0, Kind: 'gpu', Name: 'NVIDIA L4', Uuid: 'GPU-aaaa', TotalMemoryMB: 23034, DecodeEngines: 4, DecodeFormats: ['H.264', 'H.265'], ExecutionProviders: ['cuda'] },
    { Index: 1, Kind: 'gpu', TotalMemoryMB: 23034, ExecutionProviders: ['cuda'] },
    { Index: 0, Kind: 'vaapi', Name: '/dev/dri/renderD128', ExecutionProviders: [] },
    { Index: 0, Kind: 'npu', Name: '/dev/accel/accel0 (intel_vpu)', ExecutionProviders: [] },
  ]);
});

t.test('ER1/ER4: AvailableResource carries live memory, utilisation and our decode sessions per device', async (t) => {
  const live = [{ ...HOST.gpus[0]!, utilizationGpu: 37.4, utilizationDecoder: 12 }, { ...HOST.gpus[1]!, utilizationGpu: 100 }];
  const avail = acceleratorAvailability(HOST, live, GPU_BUILD, { cuda: 3, vaapi: 1 });
  t.ok(parse(AcceleratorList, avail).ok, 'valid against the shared schema');
  t.match(avail[0], { Index: 0, AvailableMemoryMB: 22000, UtilizationGpu: 37, UtilizationDecoder: 12, DecodeSessions: 3 }, 'the native decoder\'s CUDA sessions are on device 0');
  t.match(avail[1], { Index: 1, AvailableMemoryMB: 100, UtilizationGpu: 100, DecodeSessions: 0 });
  t.match(avail[2], { Kind: 'vaapi', DecodeSessions: 1 });
  t.strictSame(acceleratorAvailability({ gpus: [], renderNodes: [], npus: [] }, [], GPU_BUILD, { cuda: 0, vaapi: 0 }), [], 'nothing found, nothing listed');
});

t.test('ER4: NPUs under /dev/accel are named by their driver', async (t) => {
  const dir = t.testdir({});
  const dev = path.join(dir, 'dev');
  const sys = path.join(dir, 'sys');
  mkdirSync(dev);
  writeFileSync(path.join(dev, 'accel0'), '');
  writeFileSync(path.join(dev, 'not-an-accel'), '');
  mkdirSync(path.join(sys, 'accel0', 'device'), { recursive: true });
  mkdirSync(path.join(dir, 'drivers', 'intel_vpu'), { recursive: true });
  symlinkSync(path.join(dir, 'drivers', 'intel_vpu'), path.join(sys, 'accel0', 'device', 'driver'));
  t.strictSame(npus(dev, sys), [`${path.join(dev, 'accel0')} (intel_vpu)`]);
  t.strictSame(npus(path.join(dir, 'absent'), sys), [], 'no /dev/accel: none');
});

t.test('ER1: this box\'s reports name the providers its ONNX Runtime loads and stay valid', async (t) => {
  const m = new ResourceMonitor({ deviceId: 'e1', deviceType: '1', productType: 'retinad', dataDir: t.testdir({}), decodeSessions: () => ({ cuda: 0, vaapi: 0 }) });
  const total = await m.total();
  t.ok(parse(TotalResource, total).ok, 'table 4 valid');
  const ext = total.ResourceInfo.ExtendInfo as { ExecutionProviders: string[]; Accelerators: unknown };
  t.ok(ext.ExecutionProviders.includes('cpu'), `providers: ${ext.ExecutionProviders.join(', ')}`);
  t.ok(parse(AcceleratorList, ext.Accelerators).ok, 'Accelerators in the shared shape');
  t.equal((ext.Accelerators as unknown[]).filter((a) => (a as { Kind: string }).Kind === 'gpu').length, hostAccelerators().gpus.length, 'one entry per GPU the probe found');
  const avail = await m.available();
  t.ok(parse(AvailableResource, avail).ok, 'table 7 valid');
});

t.test('ER1: with GPUs, table 7 ComputeResource is their free memory and their peaks scaled by idle time', async (t) => {
  const live = [{ ...HOST.gpus[0]!, utilizationGpu: 50 }, { ...HOST.gpus[1]!, utilizationGpu: 100 }];
  t.strictSame(gpuCompute(live, { fp32: 30, fp16: 120, int8: 240 }), {
    AvailablePower: [{ Precision: 'int8', ComputingPower: '60 TOPS' }, { Precision: 'float16', ComputingPower: '30 TFLOPS' }, { Precision: 'float32', ComputingPower: '7.5 TFLOPS' }],
    AvailableComputeMemory: 22100,
  }, 'a quarter idle on average; 22000 + 100 MB free');
  t.strictSame(gpuCompute(live, null), { AvailableComputeMemory: 22100 }, 'an unknown chip: memory only');
  t.equal(gpuCompute([], { fp32: 1, fp16: 1, int8: 1 }), null, 'no GPU: the CPU figures stand');
});
