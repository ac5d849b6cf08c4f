/**
 * The ONNX project's `onnx.proto` as a protobufjs type, loaded once: the writers and readers of
 * trained models (onnx-writer.ts, network-onnx.ts) encode and decode ModelProto with it.
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

// The schema sits in plugins-sdk/include both from src/plugins (tsx) and dist/plugins (compiled).
const SCHEMA = fileURLToPath(new URL('../../plugins-sdk/include/onnx.proto', import.meta.url));
let model: protobuf.Type | null = null;

/** onnx.ModelProto. */
export function modelType(): protobuf.Type {
  return (model ??= protobuf.loadSync(SCHEMA).lookupType('onnx.ModelProto'));
}
