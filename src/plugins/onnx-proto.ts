/**
 * The ONNX project's `onnx.proto` as a protobufjs type, loaded once, and the pieces every model
 * this host writes is made of (onnx-writer.ts: a classifier head; network-onnx.ts: a dense
 * network or a run of its layers): tensors, value infos and the model envelope.
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

// The schema sits in plugins-sdk/include both from src/plugins (tsx) and dist/plugins (compiled).
const SCHEMA = fileURLToPath(new URL('../../plugins-sdk/include/onnx.proto', import.meta.url));
let model: protobuf.Type | null = null;

/** ONNX's TensorProto.DataType FLOAT and INT8. */
export const FLOAT = 1;
export const INT8 = 3;
/** 13: ReduceMean's axes as an attribute, and the first opset whose DequantizeLinear takes a per-axis scale. */
const OPSET = 13;

/** onnx.ModelProto. */
export function modelType(): protobuf.Type {
  return (model ??= protobuf.loadSync(SCHEMA).lookupType('onnx.ModelProto'));
}

/** An initializer: float32 or int8 values, raw. */
export function tensor(name: string, dims: number[], data: Float32Array | Int8Array): Record<string, unknown> {
  return { name, dims, dataType: data instanceof Int8Array ? INT8 : FLOAT, rawData: Buffer.from(data.buffer, data.byteOffset, data.byteLength) };
}

/** A float graph input or output; a string dimension is symbolic (`N`). */
export function valueInfo(name: string, dims: Array<number | string>): Record<string, unknown> {
  return { name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } } };
}

/** The encoded ModelProto of `graph` (nodes, initializers, inputs, outputs), at this host's IR version and opset. */
export function encodeModel(graph: Record<string, unknown>, doc: string): Buffer {
  const T = modelType();
  return Buffer.from(T.encode(T.fromObject({ irVersion: 8, opsetImport: [{ domain: '', version: OPSET }], producerName: 'retinad', docString: doc, graph })).finish());
}
