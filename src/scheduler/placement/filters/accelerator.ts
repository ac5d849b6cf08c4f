/**
 * S3, SR1, SR4: a subtask that needs an accelerator (Constraints.Accelerator cuda, tensorrt or
 * openvino) goes only to an executor that reports one its ONNX Runtime can run that provider on
 * (ExtendInfo.Accelerators / ExecutionProviders, protocol/accelerator.ts), and not to a GPU that
 * is full: less free memory than the subtask needs, or busy nearly all the time. cpu and any
 * ask nothing (a model asking for an accelerator it does not get still runs, on CPU).
 */
import { AcceleratorList, check, type AcceleratorInfo } from '../../../protocol/index.ts';
import type { Filter } from '../types.ts';

/**
 * GPU memory a subtask is assumed to need when it does not say (Constraints.AcceleratorMemoryMB):
 * a CUDA context with cuDNN's workspace takes about 300–500 MB before the model's own weights.
 */
export const DEFAULT_ACCELERATOR_MEMORY_MB = 512;
/** NVML utilisation (percent of the sample period a kernel ran) at which a GPU has no time left for another stream. */
export const FULL_UTILIZATION = 95;

/** ExtendInfo members are the executor vendor's own (tables 4, 7): only ours, valid, are read; the check is made once per report object. */
const seen = new WeakMap<object, AcceleratorInfo[] | null>();
function accelerators(ext: Record<string, unknown> | undefined): AcceleratorInfo[] | null {
  const v = ext?.Accelerators;
  if (!v || typeof v !== 'object') return null;
  let list = seen.get(v);
  if (list === undefined) {
    list = check(AcceleratorList, v) ? v : null;
    seen.set(v, list);
  }
  return list;
}

/** Why a GPU is full for a subtask needing `needMB`, or null. */
function fullness(g: AcceleratorInfo, needMB: number): string | null {
  if (g.AvailableMemoryMB !== undefined && g.AvailableMemoryMB < needMB) return `GPU ${g.Index} AvailableMemoryMB ${g.AvailableMemoryMB} < ${needMB}`;
  if (g.UtilizationGpu !== undefined && g.UtilizationGpu >= FULL_UTILIZATION) return `GPU ${g.Index} UtilizationGpu ${g.UtilizationGpu}%`;
  return null;
}

export const accelerator: Filter = {
  name: 'accelerator',
  applies: (r) => r.accelerator !== undefined && r.accelerator !== 'cpu' && r.accelerator !== 'any',
  check: (r, c) => {
    const want = r.accelerator;
    if (want === undefined || want === 'cpu' || want === 'any') return null;
    const total = c.total?.ResourceInfo.ExtendInfo;
    if (want === 'openvino') {
      const eps = total?.ExecutionProviders;
      return Array.isArray(eps) && eps.includes('openvino') ? null : 'no openvino execution provider reported, subtask needs openvino';
    }
    // Live figures when the executor sent them (AvailableResource), else what it has (TotalResource): presence without load.
    const live = accelerators(c.available?.ResourceInfo.ExtendInfo)?.filter((a) => a.Kind === 'gpu');
    const gpus = live?.length ? live : accelerators(total)?.filter((a) => a.Kind === 'gpu') ?? [];
    if (!gpus.length) return `no GPU reported, subtask needs ${want}`;
    const able = gpus.filter((g) => g.ExecutionProviders.includes(want));
    if (!able.length) return `no GPU it can run ${want} on (its ONNX Runtime offers ${[...new Set(gpus.flatMap((g) => g.ExecutionProviders))].join(', ') || 'none'} there)`;
    const need = r.acceleratorMemoryMB ?? DEFAULT_ACCELERATOR_MEMORY_MB;
    const why = able.map((g) => fullness(g, need));
    return why.some((w) => w === null) ? null : `every ${want} GPU is full: ${why.join('; ')}`;
  },
};
