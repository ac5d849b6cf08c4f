/**
 * ONNX Runtime's official builds (onnxruntime-node 1.30 on Linux) send telemetry to Microsoft:
 * on first load they create a persistent device ID under ~/.cache/Microsoft/DeveloperTools/
 * .onnxruntime, an event database beside it and a log in the temp directory, and start an
 * uploader. An edge node that analyses video must not report home on its own, so our processes
 * opt out (ORT_DISABLE_TELEMETRY=1, which ONNX Runtime reads once, when it first loads) unless
 * the operator set the variable (ORT_DISABLE_TELEMETRY=0 keeps Microsoft's default).
 *
 * Imported for its effect, before onnxruntime-node, by every module that loads it. It must run
 * on the main thread: ONNX Runtime reads the C environment, which a worker's `process.env` (a
 * copy) never reaches, and the workers of the plugin pool are started by the main thread after
 * pool.ts, which imports this, has set it.
 */
if (process.env.ORT_DISABLE_TELEMETRY === undefined) process.env.ORT_DISABLE_TELEMETRY = '1';

export {};
