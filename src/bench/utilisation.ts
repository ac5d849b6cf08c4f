/**
 * Part (c): achieved operations per second against the device's peak. FLOPs per frame come
 * from the plugin's ONNX graphs (plugins/onnx-flops.ts) at its input sizes, crop models counted
 * once per crop; the peak is measured on CPU (plugins/peak.ts) and taken from the datasheet for
 * an accelerator the probe identifies (runtime/accelerators.ts).
 */
import type { LoadedPlugin } from '../plugins/registry.ts';
import { countFlops } from '../plugins/onnx-flops.ts';

/** GFLOP of one frame: frame-stage models at the input size, plus `cropsPerFrame` × crop models. */
export function gflopsPerFrame(p: LoadedPlugin, cropsPerFrame: number): { gflops: number; uncounted: string[] } {
  let g = 0;
  const uncounted = new Set<string>();
  for (const model of p.models) {
    const input = model.stage === 'crop' ? p.manifest.cropStage?.input : p.manifest.input;
    if (!input) continue;
    try {
      const c = countFlops(model.path, input.height, input.width);
      g += c.gflops * (model.stage === 'crop' ? cropsPerFrame : 1);
      for (const u of c.uncounted) uncounted.add(u);
    } catch {
      uncounted.add(`${model.ModelVersion} (unreadable)`);
    }
  }
  return { gflops: g, uncounted: [...uncounted] };
}

export interface Peak {
  /** Where inference ran and what its peak is, GFLOP/s (float32). */
  device: string;
  gflops: number;
  source: 'measured' | 'datasheet';
}
