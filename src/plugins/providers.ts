/**
 * Which ONNX Runtime execution provider runs a plugin's models: the manifest's preference
 * (`resources.accelerator`), what the executor's probe found on this box, and what the installed
 * ONNX Runtime can really create a session with (ort-support.ts). Pure: facts in, a choice and
 * its reason out, so the rule is tested on any machine with the facts of any other.
 */
import type { AcceleratorPreference, ExecutionProvider } from '../protocol/index.ts';

/** A GPU as the probe saw it (NVML index = CUDA device index). */
export interface ProbedGpu {
  index: number;
  name: string;
  uuid?: string;
  memoryTotalMB?: number;
  memoryFreeMB?: number;
  utilizationGpu?: number;
}

/** What the executor's probe found, as the pool needs it (runtime/accelerators.ts fills it). */
export interface HostAccelerators {
  gpus: ProbedGpu[];
  /** Why there is no GPU, when there is none (the probe's own words). */
  gpuReason?: string;
  /** VA-API render nodes (/dev/dri/renderD*): decode only, no ONNX Runtime provider uses them. */
  renderNodes: string[];
  /** NPUs the probe can name (/dev/accel/accel*); OpenVINO is the provider that reaches Intel's. */
  npus: string[];
}

/** Per provider: whether this ONNX Runtime created a session with it, and if not, why. */
export type ProviderSupport = Record<ExecutionProvider, { ok: boolean; reason?: string }>;

/** Where one model runs, and why there. */
export interface ProviderChoice {
  requested: AcceleratorPreference;
  provider: ExecutionProvider;
  /** The GPU (CUDA device index) for cuda and tensorrt. */
  deviceId?: number;
  /** As asked, or why what was asked could not be had. */
  reason: string;
}

/** No probe given: the pool runs everything on CPU and says so. */
export const NO_ACCELERATORS: HostAccelerators = { gpus: [], gpuReason: 'no accelerator probe given to the plugin pool', renderNodes: [], npus: [] };

const GPU_PROVIDERS: ReadonlySet<ExecutionProvider> = new Set(['cuda', 'tensorrt']);

/**
 * Providers to try for a preference, best first; CPU is always the last resort. TensorRT falls
 * back to CUDA on the same GPU. `any` does not reach for TensorRT: building its engine on a
 * session's first use takes from seconds to minutes, past a plugin's first-call deadline.
 */
function wanted(pref: AcceleratorPreference): ExecutionProvider[] {
  switch (pref) {
    case 'cpu': return [];
    case 'cuda': return ['cuda'];
    case 'tensorrt': return ['tensorrt', 'cuda'];
    case 'openvino': return ['openvino'];
    case 'any': return ['cuda', 'openvino'];
  }
}

/** The GPU with the fewest of our models on it, then the most free memory, then the lowest index. */
export function leastLoadedGpu(gpus: readonly ProbedGpu[], assigned: ReadonlyMap<number, number>): ProbedGpu | undefined {
  let best: ProbedGpu | undefined;
  for (const g of gpus) {
    if (!best) { best = g; continue; }
    const a = assigned.get(g.index) ?? 0;
    const b = assigned.get(best.index) ?? 0;
    if (a !== b ? a < b : (g.memoryFreeMB ?? 0) !== (best.memoryFreeMB ?? 0) ? (g.memoryFreeMB ?? 0) > (best.memoryFreeMB ?? 0) : g.index < best.index) best = g;
  }
  return best;
}

/** Chooses the provider (and GPU) for a model whose manifest asks for `pref`. */
export function chooseProvider(pref: AcceleratorPreference, host: HostAccelerators, support: ProviderSupport, assigned: ReadonlyMap<number, number> = new Map()): ProviderChoice {
  const notes: string[] = [];
  for (const p of wanted(pref)) {
    const gpu = GPU_PROVIDERS.has(p) ? leastLoadedGpu(host.gpus, assigned) : undefined;
    if (GPU_PROVIDERS.has(p) && !gpu) {
      notes.push(`${p}: the probe found no NVIDIA GPU${host.gpuReason ? ` (${host.gpuReason})` : ''}`);
      continue;
    }
    const s = support[p];
    if (!s.ok) {
      notes.push(`${p}: this ONNX Runtime cannot create a session on ${p}${s.reason ? ` (${s.reason})` : ''}`);
      continue;
    }
    const where = gpu ? ` on GPU ${gpu.index} (${gpu.name})` : '';
    const reason = notes.length ? `${notes.join('; ')}; using ${p}${where}` : `as asked${where}`;
    return { requested: pref, provider: p, ...(gpu ? { deviceId: gpu.index } : {}), reason };
  }
  return { requested: pref, provider: 'cpu', reason: pref === 'cpu' ? 'as asked' : `${notes.join('; ')}; running on cpu` };
}

/** The provider name as reported: `cuda:1` for a GPU provider, else the name. */
export function providerLabel(c: { provider: string; deviceId?: number }): string {
  return c.deviceId === undefined ? c.provider : `${c.provider}:${c.deviceId}`;
}
