// The edge part of the digit network (DEC2): the ONNX model (the network's second layer, cut by
// the scheduler from a trained digit_mlp) has turned a device's features into class
// probabilities; report the class. The features arrive as a frame: a row of the device's
// feature set, read from its /System/Samples.
import { abiVersion, alloc, readInput, output } from "../../../assembly/index";

export function rd_abi_version(): i32 { return abiVersion(); }
export function rd_alloc(size: u32): usize { return alloc(size); }

/** buffers[1] is the model's `probs` [1, classes]. */
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
