// A small network trained in the cloud and cut across tiers (DEC2): 400 grey pixels → 64 (ReLU)
// → 10 softmax. This package holds the whole network, two ABIs:
// - rd_process (inference, TaskType 6): the ONNX model has run on the frame; report its class.
// - rd_train (training, TaskType 7): one epoch of mini-batch SGD with backpropagation over the
//   samples the host hands in, from the current weights; returns every layer's new weights.
// Its manifest's tierParts name the packages the scheduler cuts a trained version into: the first
// layer for devices (digit_mlp_features: frame → features), the second for edges (digit_mlp_head).
import { abiVersion, alloc, readInput, output, outputBytes } from "../../../assembly/index";

export function rd_abi_version(): i32 { return abiVersion(); }
export function rd_alloc(size: u32): usize { return alloc(size); }

/** Inference: buffers[1] is the model's `probs` [1, classes]. */
export function rd_process(ptr: usize, len: u32): i64 {
  const inp = readInput(ptr, len);
  const probs = inp.buffers[1];
  const n = probs.byteLength >> 2;
  let best = 0;
  let p: f32 = -1;
  for (let c = 0; c < n; c++) {
    const v = load<f32>(probs.dataStart + (<usize>c << 2));
    if (v > p) { p = v; best = c; }
  }
  return output("{\"Results\":[{\"Type\":7,\"ResultData\":{\"Class\":" + best.toString() + ",\"Confidence\":" + (Math.round(<f64>p * 10000) / 10000).toString() + "}}]}");
}

/** "RDW2": a layered network's weights block (see docs/PLUGINS.md, "Training ABI"). */
const NETWORK_MAGIC: u32 = 0x32574452;

/**
 * Training: width = input dimension D, height = classes C; buffers: [0] features f32 N×D,
 * [1] labels u8 N, then per layer k: [2+2k] W_k f32 in×out (feature-major), [3+2k] b_k f32 out.
 * ReLU between layers, softmax cross-entropy at the end. AlgArgs: LearningRate, BatchSize, L2,
 * Epoch (seeds the shuffle, so a run is reproducible).
 */
export function rd_train(ptr: usize, len: u32): i64 {
  const inp = readInput(ptr, len);
  const D = <i32>inp.width, C = <i32>inp.height;
  const nb = inp.buffers.length;
  if (nb < 4 || (nb & 1) != 0) abort("rd_train: buffers must be features, labels, then W and b of each layer");
  const L = (nb - 2) >> 1;
  const X = inp.buffers[0], Y = inp.buffers[1];
  const N = <i32>Y.byteLength;
  if (<i32>X.byteLength != N * D * 4) abort("rd_train: features do not match width (input dimension) and the label count");
  const sizes = new Int32Array(L + 1);
  sizes[0] = D;
  for (let k = 0; k < L; k++) {
    sizes[k + 1] = inp.buffers[3 + 2 * k].byteLength >> 2;
    if (<i32>inp.buffers[2 + 2 * k].byteLength != sizes[k] * sizes[k + 1] * 4) abort("rd_train: a layer's W is not in × out of its neighbours' sizes");
  }
  if (sizes[L] != C) abort("rd_train: the last layer's size is not height (classes)");
  const lr = <f32>inp.argNumber("LearningRate", 0.1);
  const B = max(1, <i32>inp.argNumber("BatchSize", 32));
  const l2 = <f32>inp.argNumber("L2", 0.0001);
  let seed = <u32>inp.argNumber("Epoch", 0) * 2654435761 + 12345;
  // Working copies (the host's buffers are read-only input), gradients, activations and deltas.
  const W = new Array<Float32Array>(L), b = new Array<Float32Array>(L), gW = new Array<Float32Array>(L), gb = new Array<Float32Array>(L);
  const act = new Array<Float32Array>(L + 1), delta = new Array<Float32Array>(L + 1);
  for (let k = 0; k < L; k++) {
    const nw = sizes[k] * sizes[k + 1];
    W[k] = new Float32Array(nw); b[k] = new Float32Array(sizes[k + 1]);
    memory.copy(W[k].dataStart, inp.buffers[2 + 2 * k].dataStart, <usize>(nw * 4));
    memory.copy(b[k].dataStart, inp.buffers[3 + 2 * k].dataStart, <usize>(sizes[k + 1] * 4));
    gW[k] = new Float32Array(nw); gb[k] = new Float32Array(sizes[k + 1]);
  }
  for (let k = 0; k <= L; k++) { act[k] = new Float32Array(sizes[k]); delta[k] = new Float32Array(sizes[k]); }
  const order = new Int32Array(N);
  for (let i = 0; i < N; i++) order[i] = i;
  for (let i = N - 1; i > 0; i--) { seed = seed * 1664525 + 1013904223; const j = <i32>(seed % <u32>(i + 1)); const t = order[i]; order[i] = order[j]; order[j] = t; }
  let loss: f64 = 0;
  let correct = 0;
  for (let s = 0; s < N; s += B) {
    const e = min(N, s + B);
    for (let k = 0; k < L; k++) { gW[k].fill(0); gb[k].fill(0); }
    for (let q = s; q < e; q++) {
      const i = order[q];
      memory.copy(act[0].dataStart, X.dataStart + (<usize>(i * D) << 2), <usize>(D * 4));
      // Forward: act[k+1] = relu(act[k] · W_k + b_k), the last layer's logits without ReLU.
      for (let k = 0; k < L; k++) {
        const a = act[k], z = act[k + 1], w = W[k], out = sizes[k + 1], inn = sizes[k];
        for (let j = 0; j < out; j++) z[j] = b[k][j];
        for (let d = 0; d < inn; d++) {
          const v = a[d];
          if (v == 0) continue;
          const row = d * out;
          for (let j = 0; j < out; j++) z[j] += v * w[row + j];
        }
        if (k < L - 1) for (let j = 0; j < out; j++) if (z[j] < 0) z[j] = 0;
      }
      const z = act[L];
      const y = <i32>Y[i];
      let mx = z[0], arg = 0;
      for (let c = 1; c < C; c++) if (z[c] > mx) { mx = z[c]; arg = c; }
      if (arg == y) correct++;
      let sum: f32 = 0;
      const dl = delta[L];
      for (let c = 0; c < C; c++) { dl[c] = Mathf.exp(z[c] - mx); sum += dl[c]; }
      for (let c = 0; c < C; c++) dl[c] /= sum;
      loss -= Math.log(max(<f64>dl[y], 1e-12));
      dl[y] -= 1; // dLoss/dlogits
      // Backward: gradients of layer k from delta[k+1]; delta[k] through W_k and the ReLU.
      for (let k = L - 1; k >= 0; k--) {
        const a = act[k], dn = delta[k + 1], w = W[k], g = gW[k], out = sizes[k + 1], inn = sizes[k];
        for (let j = 0; j < out; j++) gb[k][j] += dn[j];
        for (let d = 0; d < inn; d++) {
          const v = a[d];
          if (v == 0) continue;
          const row = d * out;
          for (let j = 0; j < out; j++) g[row + j] += v * dn[j];
        }
        if (k > 0) {
          const dp = delta[k];
          for (let d = 0; d < inn; d++) {
            if (a[d] <= 0) { dp[d] = 0; continue; } // ReLU: no gradient where it was cut
            const row = d * out;
            let t: f32 = 0;
            for (let j = 0; j < out; j++) t += w[row + j] * dn[j];
            dp[d] = t;
          }
        }
      }
    }
    const step = lr / <f32>(e - s);
    for (let k = 0; k < L; k++) {
      const w = W[k], g = gW[k], bb = b[k], gg = gb[k];
      for (let j = 0; j < w.length; j++) w[j] -= step * g[j] + lr * l2 * w[j];
      for (let j = 0; j < bb.length; j++) bb[j] -= step * gg[j];
    }
  }
  const metrics = String.UTF8.encode("{\"Loss\":" + (loss / <f64>max(N, 1)).toString() + ",\"TrainAccuracy\":" + (<f64>correct / <f64>max(N, 1)).toString() + ",\"Samples\":" + N.toString() + "}");
  let values = 0;
  for (let k = 0; k < L; k++) values += sizes[k] * sizes[k + 1] + sizes[k + 1];
  const head = 12 + 4 * (L + 1);
  const out = new ArrayBuffer(head + values * 4 + metrics.byteLength);
  const o = changetype<usize>(out);
  store<u32>(o, NETWORK_MAGIC);
  store<u32>(o + 4, <u32>L);
  store<u32>(o + 8, <u32>metrics.byteLength);
  for (let k = 0; k <= L; k++) store<u32>(o + 12 + <usize>(4 * k), <u32>sizes[k]);
  let at = o + <usize>head;
  for (let k = 0; k < L; k++) {
    memory.copy(at, W[k].dataStart, <usize>(W[k].length * 4)); at += <usize>(W[k].length * 4);
    memory.copy(at, b[k].dataStart, <usize>(b[k].length * 4)); at += <usize>(b[k].length * 4);
  }
  memory.copy(at, changetype<usize>(metrics), <usize>metrics.byteLength);
  return outputBytes(out);
}
