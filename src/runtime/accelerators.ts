/**
 * Compute power by precision for table 4's ComputeResource: measured or probed facts (GPU name,
 * driver, memory) joined with a table of known chips' datasheet peaks (dense, no sparsity).
 * Unknown chips report what was measured and say so.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import type { HostAccelerators, ProbedGpu } from '../plugins/providers.ts';
import { loadNative, type ProbeResult } from './media/native.ts';

/** Datasheet peak, dense: TFLOPS for float, TOPS for int. */
interface ChipPeaks { fp32: number; fp16: number; int8: number }

const KNOWN: Array<[RegExp, ChipPeaks]> = [
  [/H200/i, { fp32: 67, fp16: 989, int8: 1979 }],
  [/H100.*(SXM|HBM3)|H100 80GB HBM3/i, { fp32: 67, fp16: 989, int8: 1979 }],
  [/H100.*PCIe|H100 PCIe|H100 NVL/i, { fp32: 51, fp16: 756, int8: 1513 }],
  [/H100/i, { fp32: 67, fp16: 989, int8: 1979 }],
  [/A100/i, { fp32: 19.5, fp16: 312, int8: 624 }],
  [/L40S/i, { fp32: 91.6, fp16: 362, int8: 733 }],
  [/L4\b/i, { fp32: 30.3, fp16: 121, int8: 242 }],
  [/A10\b/i, { fp32: 31.2, fp16: 125, int8: 250 }],
  [/T4\b/i, { fp32: 8.1, fp16: 65, int8: 130 }],
  [/RTX 4090/i, { fp32: 82.6, fp16: 165, int8: 661 }],
  [/Orin/i, { fp32: 5.3, fp16: 85, int8: 170 }],
];

export interface AcceleratorSummary {
  chip: string | null;
  driverVersion?: string;
  gpuCount: number;
  memoryMB: number;
  peaks: ChipPeaks | null;
  probe: ProbeResult | null;
}

let cached: AcceleratorSummary | undefined;

/** What the native probe finds (once per process; NVML is cheap but not free). */
export function accelerators(): AcceleratorSummary {
  if (cached) return cached;
  const addon = loadNative().addon;
  let probe: ProbeResult | null = null;
  try {
    probe = addon ? addon.probe() : null;
  } catch {
    probe = null;
  }
  const gpus = probe?.nvml.available ? probe.nvml.gpus ?? [] : [];
  const [gpu] = gpus;
  const name = gpu ? String(gpu.name ?? 'NVIDIA GPU') : null;
  const peaks = name ? KNOWN.find(([re]) => re.test(name))?.[1] ?? null : null;
  cached = {
    chip: name ? (gpus.length > 1 ? `${gpus.length}x ${name}` : name).slice(0, 64) : null,
    driverVersion: probe?.nvml.driverVersion,
    gpuCount: gpus.length,
    memoryMB: gpus.reduce((s, g) => s + Number(g.memoryTotalMB ?? 0), 0),
    peaks: peaks ? { fp32: peaks.fp32 * gpus.length, fp16: peaks.fp16 * gpus.length, int8: peaks.int8 * gpus.length } : null,
    probe,
  };
  return cached;
}

/** CPU ISA flags from the native probe, else from systeminformation's list. */
export function cpuFlags(fallback: string): string[] {
  const f = accelerators().probe?.cpu.flags;
  return f && f.length ? f : fallback.split(' ').filter((x) => /^(avx|avx2|avx512f|fma|sse4_2|neon|asimd)$/.test(x));
}

/** NVML's GPU record as the probe returns it, typed. */
function toGpu(g: Record<string, string | number>, i: number): ProbedGpu {
  const num = (k: string) => (typeof g[k] === 'number' ? (g[k] as number) : undefined);
  return {
    index: num('index') ?? i, name: String(g.name ?? 'NVIDIA GPU'), ...(g.uuid ? { uuid: String(g.uuid) } : {}),
    ...(num('memoryTotalMB') !== undefined ? { memoryTotalMB: num('memoryTotalMB') } : {}),
    ...(num('memoryFreeMB') !== undefined ? { memoryFreeMB: num('memoryFreeMB') } : {}),
    ...(num('utilizationGpu') !== undefined ? { utilizationGpu: num('utilizationGpu') } : {}),
  };
}

/** Live NVML figures per GPU with the decoder load; the start-up probe's when this addon build has no probeNvml. */
export function liveGpus(): Array<ProbedGpu & { utilizationDecoder?: number }> {
  const addon = loadNative().addon;
  let nvml: ProbeResult['nvml'] | null | undefined;
  try {
    nvml = addon?.probeNvml ? addon.probeNvml() : accelerators().probe?.nvml;
  } catch {
    nvml = null;
  }
  if (!nvml?.available) return [];
  return (nvml.gpus ?? []).map((g, i) => ({ ...toGpu(g, i), ...(typeof g.utilizationDecoder === 'number' ? { utilizationDecoder: g.utilizationDecoder } : {}) }));
}

/**
 * NPUs the kernel's accel subsystem exposes (/dev/accel/accelN: Intel's NPU, Habana …), named by
 * their driver. `dir` is for tests; other NPUs (Rockchip's RKNPU, Ascend) have no provider here.
 */
export function npus(dir = '/dev/accel', sys = '/sys/class/accel'): string[] {
  let nodes: string[];
  try {
    nodes = readdirSync(dir).filter((n) => /^accel\d+$/.test(n)).sort();
  } catch {
    return [];
  }
  return nodes.map((n) => {
    let driver = 'unknown driver';
    try {
      driver = path.basename(readlinkSync(path.join(sys, n, 'device', 'driver')));
    } catch { /* no sysfs entry: the node alone is still worth naming */ }
    return `${path.join(dir, n)} (${driver})`;
  });
}

/** What the plugin pool needs of the probe to choose execution providers. */
export function hostAccelerators(): HostAccelerators {
  const probe = accelerators().probe;
  const gpus = probe?.nvml.available ? (probe.nvml.gpus ?? []).map(toGpu) : [];
  const gpuReason = gpus.length ? undefined : probe ? probe.nvml.reason ?? 'NVML reports no GPU' : `native probe unavailable: ${loadNative().error ?? 'no addon'}`;
  return { gpus, ...(gpuReason ? { gpuReason } : {}), renderNodes: probe?.vaapi.renderNodes ?? [], npus: npus() };
}
