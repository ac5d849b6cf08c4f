/**
 * Accuracy of a classifier head on labelled samples, computed on the host the way the ONNX
 * graph computes it (grey pixels · W + b, arg-max; softmax does not change the arg-max). The
 * training runner checks a trained model against the task's validation set with it before
 * anything is published (DC3: a version whose accuracy check fails is never rolled out).
 */
import type { ClassifierWeights } from './onnx-writer.ts';
import type { SampleSet } from './train-blob.ts';

/** Share of `s` that `w` classifies correctly (0..1). */
export function headAccuracy(w: ClassifierWeights, s: SampleSet): number {
  if (s.dim !== w.dim || s.classes !== w.classes) throw new RangeError(`validation samples are ${s.dim}×${s.classes}, the model ${w.dim}×${w.classes}`);
  const n = s.labels.length;
  const z = new Float64Array(w.classes);
  let correct = 0;
  for (let i = 0; i < n; i++) {
    z.set(w.bias);
    for (let d = 0; d < w.dim; d++) {
      const x = s.features[i * w.dim + d]!;
      if (x !== 0) for (let c = 0; c < w.classes; c++) z[c]! += x * w.weights[d * w.classes + c]!;
    }
    let best = 0;
    for (let c = 1; c < w.classes; c++) if (z[c]! > z[best]!) best = c;
    if (best === s.labels[i]) correct++;
  }
  return n ? correct / n : 0;
}
