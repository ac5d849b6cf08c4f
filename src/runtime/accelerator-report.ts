/**
 * Per-accelerator detail for tables 4 and 7's ExtendInfo (ER1, ER4): every GPU, VA-API render
 * node and NPU the probe found, with the execution providers this box's ONNX Runtime can run on
 * it, its memory, its NVDEC engines, and — in AvailableResource — its live memory, utilisation
 * and our hardware decode sessions. Pure: facts in, protocol entries out (placement reads them).
 */
import type { AcceleratorInfo, AvailableResource, ExecutionProvider } from '../protocol/index.ts';
import type { HostAccelerators, ProbedGpu, ProviderSupport } from '../plugins/providers.ts';
import type { ProbeResult } from './media/native.ts';

/** Hardware decode sessions this executor has open, by kind (the native decoder uses CUDA device 0). */
export interface DecodeSessions { cuda: number; vaapi: number }

const ok = (s: ProviderSupport, list: ExecutionProvider[]) => list.filter((p) => s[p].ok);

/** The NVDEC engines and formats of the probe (it asks device 0; NVIDIA ships one GPU model per box as a rule). */
function nvdec(probe: ProbeResult | null): { DecodeEngines?: number; DecodeFormats?: string[] } {
  const codecs = probe?.cuda.nvdec?.available ? probe.cuda.nvdec.codecs ?? [] : [];
  if (!codecs.length) return {};
  return { DecodeEngines: Math.max(...codecs.map((c) => c.engines)), DecodeFormats: codecs.map((c) => c.format) };
}

function gpuEntry(g: ProbedGpu, support: ProviderSupport): AcceleratorInfo {
  return { Index: g.index, Kind: 'gpu', Name: g.name.slice(0, 128), ...(g.uuid ? { Uuid: g.uuid.slice(0, 96) } : {}), ExecutionProviders: ok(support, ['cuda', 'tensorrt']) };
}

/** ExtendInfo.Accelerators of TotalResource. */
export function acceleratorTotals(host: HostAccelerators, probe: ProbeResult | null, support: ProviderSupport): AcceleratorInfo[] {
  const decode = nvdec(probe);
  return [
    ...host.gpus.map((g) => ({ ...gpuEntry(g, support), ...(g.memoryTotalMB !== undefined ? { TotalMemoryMB: g.memoryTotalMB } : {}), ...decode })),
    ...host.renderNodes.map((n, i): AcceleratorInfo => ({ Index: i, Kind: 'vaapi', Name: n, ExecutionProviders: [] })),
    // OpenVINO is the provider that reaches an Intel NPU; whether it reaches this one is not probed.
    ...host.npus.map((n, i): AcceleratorInfo => ({ Index: i, Kind: 'npu', Name: n, ExecutionProviders: ok(support, ['openvino']) })),
  ];
}

/** ExtendInfo.Accelerators of AvailableResource: live NVML figures and our decode sessions. */
export function acceleratorAvailability(host: HostAccelerators, live: Array<ProbedGpu & { utilizationDecoder?: number }>, support: ProviderSupport, sessions: DecodeSessions): AcceleratorInfo[] {
  const pct = (x: number | undefined) => (x === undefined ? undefined : Math.max(0, Math.min(100, Math.round(x))));
  return [
    ...live.map((g): AcceleratorInfo => {
      const u = pct(g.utilizationGpu);
      const d = pct(g.utilizationDecoder);
      return {
        ...gpuEntry(g, support),
        ...(g.memoryFreeMB !== undefined ? { AvailableMemoryMB: g.memoryFreeMB } : {}),
        ...(u !== undefined ? { UtilizationGpu: u } : {}),
        ...(d !== undefined ? { UtilizationDecoder: d } : {}),
        DecodeSessions: g.index === 0 ? sessions.cuda : 0,
      };
    }),
    ...host.renderNodes.map((n, i): AcceleratorInfo => ({ Index: i, Kind: 'vaapi', Name: n, ExecutionProviders: [], DecodeSessions: i === 0 ? sessions.vaapi : 0 })),
    ...host.npus.map((n, i): AcceleratorInfo => ({ Index: i, Kind: 'npu', Name: n, ExecutionProviders: ok(support, ['openvino']) })),
  ];
}

/**
 * Table 7 ComputeResource of a box with NVIDIA GPUs: the GPUs' free memory, and their datasheet
 * peaks scaled by what NVML says is idle (the CPU's share goes to ExtendInfo.AvailableCpuPower).
 * Null without GPUs: the CPU figures stand.
 */
export function gpuCompute(live: ProbedGpu[], peaks: { fp32: number; fp16: number; int8: number } | null): AvailableResource['ResourceInfo']['ComputeResource'] | null {
  if (!live.length) return null;
  const idle = live.reduce((s, g) => s + (100 - (g.utilizationGpu ?? 0)), 0) / live.length / 100;
  const free = live.reduce((s, g) => s + (g.memoryFreeMB ?? 0), 0);
  const power = peaks
    ? [{ Precision: 'int8', ComputingPower: `${Math.round(peaks.int8 * idle)} TOPS` }, { Precision: 'float16', ComputingPower: `${Math.round(peaks.fp16 * idle)} TFLOPS` }, { Precision: 'float32', ComputingPower: `${Math.round(peaks.fp32 * idle * 10) / 10} TFLOPS` }]
    : [];
  return { ...(power.length ? { AvailablePower: power } : {}), AvailableComputeMemory: free };
}
