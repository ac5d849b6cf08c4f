/**
 * What the pool sends its sandbox worker for one call (or one batch) and what comes back: the
 * message shapes of a thread boundary, so both sides are typed by the same declaration.
 */
import type { MessagePort } from 'node:worker_threads';
import type { AcceleratorPreference, ExecutionProvider } from '../protocol/index.ts';

/** Element type of the input tensor, as the manifest's `input.dtype` declares it. */
export type TensorDtype = 'float32' | 'uint8';

/** One model run on the call's input before the plugin (stage frame or crop). */
export interface WorkerModel {
  path: string;
  inputName: string;
  outputNames: string[];
  /** Execution providers to try before CPU (the pool's choice, providers.ts); CPU is always last. */
  ep: ProviderSpec[];
  threads: number;
}

export interface WorkerTask {
  wasmPath: string;
  memInitial: number;
  memMax: number;
  maxOutputBytes: number;
  /** `rd_process`, or the crop stage's export. */
  exportName: string;
  width: number;
  height: number;
  ptsMs: number;
  args: Record<string, unknown>;
  /** False: the plugin reads only its models' outputs, not the frame tensor. */
  frameToPlugin: boolean;
  input: ArrayBuffer | SharedArrayBuffer;
  previous?: ArrayBuffer | SharedArrayBuffer;
  /** A batch: one input, pts and args per frame (`input` is then the first). */
  inputs?: Array<ArrayBuffer | SharedArrayBuffer>;
  ptsList?: number[];
  argsList?: Array<Record<string, unknown>>;
  /** Shape of one frame's tensor, batch dimension first. */
  inputDims: number[];
  dtype: TensorDtype;
  models: WorkerModel[];
  /** The worker says 'start' here when it begins, so the deadline excludes the queue. */
  port?: MessagePort;
  /** One Int32: 1 while ONNX Runtime is inside a call (the host never terminates the worker then). */
  inOrt?: SharedArrayBuffer;
}

/** One provider to create a session with; `deviceId` picks the GPU for cuda and tensorrt. */
export interface ProviderSpec {
  name: ExecutionProvider;
  deviceId?: number;
}

/**
 * Which execution provider ran a model, the ones that failed before it, and whether this call
 * created the session. The worker fills what it saw; the pool adds what was asked and why.
 */
export interface ProviderUse {
  model: string;
  provider: string;
  deviceId?: number;
  fallbacks: string[];
  sessionCreated?: boolean;
  ModelID?: number;
  /** The manifest's resources.accelerator (cpu when absent). */
  requested?: AcceleratorPreference;
  /** Why it runs where it runs (providers.ts, or the worker's own fallback). */
  reason?: string;
}

export interface WorkerReply {
  /** A single call's plugin output (JSON text). */
  output?: string;
  /** A batch's outputs, one per frame. */
  outputs?: Array<{ ok: boolean; text?: string; error?: string }>;
  inferMs: number;
  postMs: number;
  totalMs: number;
  providers: ProviderUse[];
  /**
   * The call's input buffers (one per frame), moved back to the host once the call is done with
   * them, so it can preprocess later frames into them instead of allocating; null for shared ones.
   */
  returned?: Array<ArrayBuffer | null>;
}
