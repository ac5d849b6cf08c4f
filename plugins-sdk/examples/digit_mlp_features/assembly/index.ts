// The device part of the digit network (DEC2): the ONNX model (the network's first layer, cut by
// the scheduler from a trained digit_mlp) has turned the frame into 64 features; report them as
// FeatureInfo (TaskType 4, feature extraction). With AlgArgs.FeatureSet the host files each
// vector in its sample store, where an edge reads them to recognise.
import { abiVersion, alloc, readInput, output } from "../../../assembly/index";

export function rd_abi_version(): i32 { return abiVersion(); }
export function rd_alloc(size: u32): usize { return alloc(size); }

/** buffers[1] is the model's `features` [1, dim]. */
export function rd_process(ptr: usize, len: u32): i64 {
  const inp = readInput(ptr, len);
  const f = inp.buffers[1];
  const n = f.byteLength >> 2;
  // float32 values written in full (shortest form that reads back the same float64).
  let s = "";
  for (let i = 0; i < n; i++) {
    if (i > 0) s += ",";
    s += (<f64>load<f32>(f.dataStart + (<usize>i << 2))).toString();
  }
  return output("{\"Results\":[{\"Type\":4,\"FeatureInfo\":{\"Kind\":\"digit_mlp.layer1\",\"Dim\":" + n.toString() + ",\"Vector\":[" + s + "]},\"ResultData\":{}}]}");
}
