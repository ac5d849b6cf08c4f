// A trainable classifier head (softmax regression over 20×20 grey pixels), one package, two ABIs:
// - rd_process (inference, TaskType 6): the ONNX model has run on the frame; report its class.
// - rd_train (training, TaskType 7): one epoch of mini-batch SGD over the samples the host
//   hands in, starting from the current weights; returns the new weights and the epoch's metrics.
//   With AlgArgs Objective 1 the samples carry no labels but the action the model took and the
//   reward it got (contextual bandit, DC7): a policy-gradient step on how likely the policy
//   makes each observed reward.
// The host turns the weights into the next model version (ONNX); this module never sees a file.
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

/** The most a wrong action's sample weighs against it (p(a)/(1 − p(a)) grows without bound as p(a) → 1). */
const MAX_PUSH: f32 = 4;

/** "RDW1": the weights block both ways (see docs/PLUGINS.md, "Training ABI"). */
const WEIGHTS_MAGIC: u32 = 0x31574452;

/**
 * Training: width = feature dimension D, height = classes C; buffers: [0] features f32 N×D,
 * [1] labels u8 N, [2] weights f32 D×C, [3] bias f32 C. AlgArgs: LearningRate, BatchSize,
 * L2, Epoch (seeds the shuffle, so a run is reproducible). Objective 1 (reward): [1] holds the
 * action a each sample was given (the class chosen) and [4] its reward r f32 N in 0..1; the
 * loss is −r·log p(a) − (1 − r)·log(1 − p(a)) (p(a): the policy's chance that a is rewarded),
 * so dlogits = (p − onehot(a))·(r − (1 − r)·p(a)/(1 − p(a))). Plain REINFORCE,
 * −(r − mean r)·log p(a), pushes a wrong action's logit down without end on data a greedy
 * policy logged (measured on the digits: 0.773 → 0.249 held-out); this push fades once the
 * policy no longer takes the action, and its weight is capped at MAX_PUSH.
 */
export function rd_train(ptr: usize, len: u32): i64 {
  const inp = readInput(ptr, len);
  const D = <i32>inp.width, C = <i32>inp.height;
  const X = inp.buffers[0], Y = inp.buffers[1];
  const N = <i32>Y.byteLength;
  if (<i32>X.byteLength != N * D * 4 || <i32>inp.buffers[2].byteLength != D * C * 4 || <i32>inp.buffers[3].byteLength != C * 4) abort("rd_train: buffer sizes do not match width (features), height (classes) and the label count");
  const reward = inp.argNumber("Objective", 0) == 1;
  if (reward && (inp.buffers.length < 5 || <i32>inp.buffers[4].byteLength != N * 4)) abort("rd_train: Objective 1 needs the rewards, float32 per sample, in buffer 4");
  const R: usize = reward ? inp.buffers[4].dataStart : 0;
  let meanReward: f64 = 0;
  if (reward) { for (let i = 0; i < N; i++) meanReward += <f64>load<f32>(R + (<usize>i << 2)); meanReward /= <f64>max(N, 1); }
  const lr = <f32>inp.argNumber("LearningRate", 0.5);
  const B = max(1, <i32>inp.argNumber("BatchSize", 32));
  const l2 = <f32>inp.argNumber("L2", 0.0001);
  let seed = <u32>inp.argNumber("Epoch", 0) * 2654435761 + 12345;
  // Working copies of W and b (the host's buffers are read-only input).
  const W = new Float32Array(D * C), b = new Float32Array(C);
  memory.copy(W.dataStart, inp.buffers[2].dataStart, <usize>(D * C * 4));
  memory.copy(b.dataStart, inp.buffers[3].dataStart, <usize>(C * 4));
  const order = new Int32Array(N);
  for (let i = 0; i < N; i++) order[i] = i;
  for (let i = N - 1; i > 0; i--) { seed = seed * 1664525 + 1013904223; const j = <i32>(seed % <u32>(i + 1)); const t = order[i]; order[i] = order[j]; order[j] = t; }
  const gW = new Float32Array(D * C), gb = new Float32Array(C), z = new Float32Array(C);
  let loss: f64 = 0;
  let correct = 0;
  for (let s = 0; s < N; s += B) {
    const e = min(N, s + B);
    gW.fill(0); gb.fill(0);
    for (let k = s; k < e; k++) {
      const i = order[k];
      const x = X.dataStart + (<usize>(i * D) << 2);
      const y = <i32>Y[i];
      // logits, softmax
      for (let c = 0; c < C; c++) z[c] = b[c];
      for (let d = 0; d < D; d++) {
        const xv = load<f32>(x + (<usize>d << 2));
        if (xv == 0) continue;
        const row = d * C;
        for (let c = 0; c < C; c++) z[c] += xv * W[row + c];
      }
      let mx = z[0], arg = 0;
      for (let c = 1; c < C; c++) if (z[c] > mx) { mx = z[c]; arg = c; }
      if (arg == y) correct++;
      let sum: f32 = 0;
      for (let c = 0; c < C; c++) { z[c] = Mathf.exp(z[c] - mx); sum += z[c]; }
      for (let c = 0; c < C; c++) z[c] /= sum;
      if (reward) {
        const r = load<f32>(R + (<usize>i << 2)), pa = z[y];
        loss -= <f64>r * Math.log(max(<f64>pa, 1e-12)) + (1 - <f64>r) * Math.log(max(1 - <f64>pa, 1e-12));
        const push = min<f32>(MAX_PUSH, pa / max<f32>(<f32>1 - pa, <f32>1e-6));
        const coef: f32 = r - (<f32>1 - r) * push;
        z[y] -= 1;
        for (let c = 0; c < C; c++) z[c] *= coef;
      } else {
        loss -= Math.log(max(<f64>z[y], 1e-12));
        z[y] -= 1; // dLoss/dlogits
      }
      for (let c = 0; c < C; c++) gb[c] += z[c];
      for (let d = 0; d < D; d++) {
        const xv = load<f32>(x + (<usize>d << 2));
        if (xv == 0) continue;
        const row = d * C;
        for (let c = 0; c < C; c++) gW[row + c] += xv * z[c];
      }
    }
    const step = lr / <f32>(e - s);
    for (let j = 0; j < D * C; j++) W[j] -= step * gW[j] + lr * l2 * W[j];
    for (let c = 0; c < C; c++) b[c] -= step * gb[c];
  }
  // With rewards, TrainAccuracy is the share of samples whose action the model (before each step) would take again.
  const extra = reward ? ",\"MeanReward\":" + meanReward.toString() : "";
  const metrics = String.UTF8.encode("{\"Loss\":" + (loss / <f64>max(N, 1)).toString() + ",\"TrainAccuracy\":" + (<f64>correct / <f64>max(N, 1)).toString() + ",\"Samples\":" + N.toString() + extra + "}");
  const out = new ArrayBuffer(16 + (D * C + C) * 4 + metrics.byteLength);
  const o = changetype<usize>(out);
  store<u32>(o, WEIGHTS_MAGIC);
  store<u32>(o + 4, <u32>D);
  store<u32>(o + 8, <u32>C);
  store<u32>(o + 12, <u32>metrics.byteLength);
  memory.copy(o + 16, W.dataStart, <usize>(D * C * 4));
  memory.copy(o + 16 + <usize>(D * C * 4), b.dataStart, <usize>(C * 4));
  memory.copy(o + 16 + <usize>((D * C + C) * 4), changetype<usize>(metrics), <usize>metrics.byteLength);
  return outputBytes(out);
}
