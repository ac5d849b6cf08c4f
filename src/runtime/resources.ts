/**
 * The executor's own resources (ER1, ER2): TotalResource (table 4) and AvailableResource
 * (table 7) from systeminformation. Compute power is an estimate from the CPU's cores, clock and
 * vector width until the native probe (accelerators, measured figures) reports better.
 */
import si from 'systeminformation';
import { statfs } from 'node:fs/promises';
import os from 'node:os';
import { MEMORY_MB_BYTES, type AvailableResource, type TotalResource, type DeviceType } from '../protocol/index.ts';
import { accelerators, cpuFlags, hostAccelerators, liveGpus } from './accelerators.ts';
import { acceleratorAvailability, acceleratorTotals, gpuCompute, type DecodeSessions } from './accelerator-report.ts';
import { providerSupport, supportedProviders } from '../plugins/ort-support.ts';
import { videoPerf, type CodecPerf } from './video-perf.ts';
import { nativeDecoding } from './media/native.ts';
import type { Logger } from '../log.ts';

export interface ResourceIdentity {
  deviceId: string;
  deviceType: DeviceType;
  productType: string;
  dataDir: string;
  /** Extra members for ExtendInfo (decoder backend, addon build …). */
  extendInfo?: () => Record<string, unknown>;
  /** Hardware decode sessions open now (AvailableResource's per-accelerator DecodeSessions). */
  decodeSessions?: () => DecodeSessions;
  log?: Logger;
}

const MB = MEMORY_MB_BYTES;

/** FP32 FLOPs per cycle per core from the ISA: FMA on 8 lanes ×2 units for AVX2, 16 lanes for AVX-512. */
function flopsPerCycle(flags: string): number {
  const f = ` ${flags} `;
  if (f.includes(' avx512f ')) return 64;
  if (f.includes(' avx2 ') && f.includes(' fma ')) return 32;
  if (f.includes(' avx ')) return 16;
  if (f.includes(' asimd ') || f.includes(' neon ')) return 16;
  return 8;
}

async function storageMB(dir: string): Promise<{ total: number; free: number }> {
  try {
    const s = await statfs(dir);
    return { total: Math.floor((s.blocks * s.bsize) / MB), free: Math.floor((s.bavail * s.bsize) / MB) };
  } catch {
    return { total: 0, free: 0 };
  }
}

async function bandwidthMbps(): Promise<number> {
  try {
    const ifs = await si.networkInterfaces();
    const list = Array.isArray(ifs) ? ifs : [ifs];
    const speeds = list.filter((i) => !i.internal && i.operstate === 'up' && typeof i.speed === 'number' && i.speed > 0).map((i) => i.speed as number);
    return speeds.length ? Math.round(Math.max(...speeds)) : 0;
  } catch {
    return 0;
  }
}

/** Reads TotalResource and AvailableResource for this host. */
export class ResourceMonitor {
  private cpuFlags = '';
  private cpuBrand = '';
  private cores = os.cpus().length;
  private ghz = 0;

  constructor(private readonly id: ResourceIdentity) {}

  private async cpuInfo(): Promise<void> {
    if (this.cpuBrand) return;
    const [cpu, flags] = await Promise.all([si.cpu(), si.cpuFlags()]);
    this.cpuBrand = `${cpu.manufacturer} ${cpu.brand}`.trim().slice(0, 64) || os.cpus()[0]?.model.slice(0, 64) || 'unknown CPU';
    this.cores = cpu.cores || this.cores;
    // VMs often hide the clock; fall back to the kernel's figure, then to a conservative 2 GHz.
    this.ghz = cpu.speedMax || cpu.speed || (os.cpus()[0]?.speed ?? 0) / 1000 || 2.0;
    this.cpuFlags = flags;
  }

  /** Estimated peak FP32 GFLOPS of the CPU. */
  async cpuPeakGflops(): Promise<number> {
    await this.cpuInfo();
    return Math.round(this.cores * this.ghz * flopsPerCycle(this.cpuFlags));
  }

  private perf: Promise<CodecPerf[]> | null = null;
  private perfNow: CodecPerf[] = [];

  /**
   * Decode capacity per format. The self-benchmark (first start only, then cached on disk) runs
   * in the background: reports go out at once and carry the figures when they exist.
   * Resolves when measured; `onMeasured` lets the session re-report TotalResource.
   */
  measureVideo(onMeasured?: () => void): Promise<CodecPerf[]> {
    if (!this.perf) {
      this.perf = videoPerf(this.id.dataDir, this.id.log).catch(() => [] as CodecPerf[]);
      void this.perf.then((p) => { this.perfNow = p; if (p.length) onMeasured?.(); });
    }
    return this.perf;
  }

  /** Table 4 <TotalResource> of this executor. */
  async total(): Promise<TotalResource> {
    await this.cpuInfo();
    const [mem, disk, bw, osInfo] = await Promise.all([si.mem(), storageMB(this.id.dataDir), bandwidthMbps(), si.osInfo()]);
    const perf = this.perfNow;
    const gflops = await this.cpuPeakGflops();
    const acc = accelerators();
    const host = hostAccelerators();
    const support = await providerSupport();
    const encoders = nativeDecoding()?.codecs?.().encoders ?? [];
    const power = acc.peaks
      ? [{ Precision: 'int8', ComputingPower: `${acc.peaks.int8} TOPS` }, { Precision: 'float16', ComputingPower: `${acc.peaks.fp16} TFLOPS` },
        { Precision: 'float32', ComputingPower: `${acc.peaks.fp32} TFLOPS` }, { Precision: 'float32-cpu', ComputingPower: `${gflops} GFLOPS` }]
      : [{ Precision: 'float32', ComputingPower: `${gflops} GFLOPS` }];
    return {
      DeviceID: this.id.deviceId,
      DeviceType: this.id.deviceType,
      ProductType: this.id.productType,
      ResourceInfo: {
        IsValid: 'Y',
        SystemEnv: { EnvID: `${osInfo.platform}-${os.arch()}`.slice(0, 24), EnvVersion: `${osInfo.distro} ${osInfo.release}; node ${process.versions.node}`.slice(0, 64) },
        CommonResource: { TotalMemory: Math.floor(mem.total / MB), TotalStorage: disk.total, TotalBandwidth: bw },
        ComputeResource: {
          Chip: acc.chip ?? this.cpuBrand,
          ...(acc.driverVersion ? { DriverVersion: acc.driverVersion.slice(0, 64) } : {}),
          TotalPower: power,
          TotalComputeMemory: acc.memoryMB || Math.floor(mem.total / MB),
        },
        ...(perf.length ? {
          VideoProcessResource: perf.map((p) => ({
            FormatName: p.FormatName,
            Decoding: { MaxResolution: p.maxResolution, MaxPerf: p.decode1080pFps },
            ...(encoders.includes(p.FormatName === 'H.264' ? 'libx264' : 'libx265') ? { Encoding: { MaxResolution: '4096*2304', MaxPerf: Math.round(p.decode1080pFps / 10) } } : {}),
          })),
        } : {}),
        ExtendInfo: {
          CpuChip: this.cpuBrand, CpuCores: this.cores, CpuFlags: cpuFlags(this.cpuFlags),
          // Per device, in the shape placement reads (protocol/accelerator.ts); the probe's raw answer beside it.
          Accelerators: acceleratorTotals(host, acc.probe, support),
          ExecutionProviders: supportedProviders(support),
          AcceleratorProbe: acc.probe ? { Nvml: acc.probe.nvml, Cuda: acc.probe.cuda, Vaapi: acc.probe.vaapi, Npus: host.npus } : 'native probe unavailable',
          PeaksSource: acc.peaks ? 'datasheet (dense) for the probed chip' : acc.chip ? 'unknown chip: no datasheet figure' : 'CPU estimate: cores × clock × FMA width',
          VideoPerfUnit: '1080P@1FPS, measured by self-benchmark (encode figure estimated as decode/10)',
          ...(this.id.extendInfo?.() ?? {}),
        },
      },
    };
  }

  /** Table 7 <AvailableResource> of this executor. */
  async available(): Promise<AvailableResource> {
    await this.cpuInfo();
    const [mem, disk, load, bw] = await Promise.all([si.mem(), storageMB(this.id.dataDir), si.currentLoad(), bandwidthMbps()]);
    const perf = this.perfNow;
    const idle = Math.max(0, Math.min(100, Math.round(100 - (load.currentLoad || 0))));
    const gflops = await this.cpuPeakGflops();
    const live = liveGpus();
    const accel = acceleratorAvailability(hostAccelerators(), live, await providerSupport(), this.id.decodeSessions?.() ?? { cuda: 0, vaapi: 0 });
    return {
      DeviceID: this.id.deviceId,
      ResourceInfo: {
        IsValid: 'Y',
        CommonResource: { AvailableMemory: Math.floor(mem.available / MB), AvailableStorage: disk.free, AvailableBandwidth: bw, AvailableCPU: idle },
        ComputeResource: gpuCompute(live, accelerators().peaks) ?? { AvailablePower: [{ Precision: 'float32', ComputingPower: `${Math.round((gflops * idle) / 100)} GFLOPS` }], AvailableComputeMemory: Math.floor(mem.available / MB) },
        // Software decode shares the CPU: what is left scales with idle CPU.
        ...(perf.length ? { VideoProcessResource: perf.map((p) => ({ FormatName: p.FormatName, AvailDecodePerf: p.backend === 'software' ? Math.round((p.decode1080pFps * idle) / 10) / 10 : p.decode1080pFps })) } : {}),
        ExtendInfo: {
          LoadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
          ...(accel.length ? { Accelerators: accel } : {}),
          ...(gflops ? { AvailableCpuPower: `${Math.round((gflops * idle) / 100)} GFLOPS` } : {}),
        },
      },
    };
  }
}
