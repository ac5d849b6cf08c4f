/**
 * The worker pool plugins run in (Piscina). A call that overruns its deadline is aborted, which
 * terminates and replaces its worker; a trap, an out-of-memory or a bad output fails only that
 * call. Workers × ONNX intra-op threads stay within the cores.
 */
import './ort-env.ts';
import { Piscina } from 'piscina';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { ExceptionCode } from '../protocol/index.ts';
import type { Logger } from '../log.ts';
import type { LoadedPlugin } from './loaded-plugin.ts';
import type { ProviderUse, WorkerReply, WorkerTask } from './worker-task.ts';
import { NO_ACCELERATORS, type HostAccelerators, type ProviderSupport } from './providers.ts';
import { ProviderPlanner } from './provider-planner.ts';
import { providerSupport } from './ort-support.ts';

/** The worker file: TypeScript where this file runs as TypeScript (src/ under tsx), compiled JavaScript in dist/. */
const WORKER_URL = import.meta.url.endsWith('.ts') ? new URL('./sandbox-worker.ts', import.meta.url) : new URL('./sandbox-worker.js', import.meta.url);

/** A failed plugin call: the frame is reported with ExceptionCode 50 and the task goes on. */
export class PluginCallError extends Error {
  readonly exceptionCode = ExceptionCode.RunError;
  constructor(readonly reason: 'deadline' | 'trap' | 'output' | 'abi' | 'error', message: string) {
    super(message);
    this.name = 'PluginCallError';
  }
}

/** How long close() waits for running calls before the workers go (a frame's inference is well within it). */
const CLOSE_WAIT_MS = 10_000;

export interface CallInput {
  /**
   * The preprocessed frame. An ArrayBuffer is transferred to the worker (zero-copy, detached
   * here); a SharedArrayBuffer is shared (zero-copy, stays usable, e.g. as the next call's
   * previous frame). ONNX Runtime refuses shared memory, so model inputs go as ArrayBuffer.
   */
  input: ArrayBuffer | SharedArrayBuffer;
  previous?: ArrayBuffer | SharedArrayBuffer;
  ptsMs: number;
  args: Record<string, unknown>;
  /** 'crop' runs the manifest's crop stage (its input, models and export). */
  stage?: 'frame' | 'crop';
}

/** Turns a worker-side failure into the PluginCallError a task reports. */
function classify(m: LoadedPlugin['manifest'], e: Error): PluginCallError {
  if (/exceeds limits\.maxOutputBytes|outside its memory/.test(e.message)) return new PluginCallError('output', e.message);
  if (/ABI/.test(e.message)) return new PluginCallError('abi', e.message);
  if (e instanceof WebAssembly.RuntimeError || /unreachable|out of bounds|aborted|memory/i.test(e.message)) return new PluginCallError('trap', `${m.AlgType} ${m.AlgVersion} trapped: ${e.message}`);
  return new PluginCallError('error', `${m.AlgType} ${m.AlgVersion}: ${e.message}`);
}

export interface CallResult {
  output: unknown;
  /** Per model: the execution provider used, what the manifest asked, why, the ones that failed first, and whether this call created the worker's session. */
  providers: ProviderUse[];
  queueMs: number;
  inferMs: number;
  postMs: number;
  totalMs: number;
  /** Frames that shared this inference (1 without batching). */
  batch?: number;
  /**
   * The call's input ArrayBuffer, moved back by the worker once it was done with it: the caller
   * may preprocess a later frame into it instead of allocating one (absent for shared memory).
   */
  input?: ArrayBuffer;
}

export interface PoolOptions {
  /** Worker threads (default: cores / intraOpThreads, at least 1). */
  workers?: number;
  /** ONNX Runtime intra-op threads per session. */
  intraOpThreads?: number;
  /** What the executor's probe found (GPUs, render nodes, NPUs); without it every model runs on CPU. */
  accelerators?: HostAccelerators;
  /** What the installed ONNX Runtime can create sessions with (default: tried once per process, ort-support.ts). */
  providerSupport?: () => Promise<ProviderSupport>;
  /** Where each model's provider, and a fallback's reason, are logged. */
  log?: Logger;
  /** Added to a call's deadline when the plugin has models (a worker's first call loads them); default 5000 ms. */
  modelLoadMs?: number;
}

export class PluginPool {
  private readonly piscina: Piscina;
  readonly workers: number;
  readonly intraOpThreads: number;
  private readonly planner: ProviderPlanner;
  private readonly modelLoadMs: number;
  /** Calls on their way or running: close() lets them finish first. */
  private readonly inflight = new Set<Promise<unknown>>();
  private closing = false;

  constructor(o: PoolOptions = {}) {
    const cores = os.availableParallelism?.() ?? os.cpus().length;
    this.intraOpThreads = Math.max(1, Math.min(cores, o.intraOpThreads ?? 1));
    // workers × intra-op threads never exceeds the cores: oversubscription only adds contention.
    this.workers = Math.max(1, Math.min(o.workers ?? cores, Math.floor(cores / this.intraOpThreads)));
    this.planner = new ProviderPlanner(o.accelerators ?? NO_ACCELERATORS, o.providerSupport ?? providerSupport, o.log);
    this.modelLoadMs = o.modelLoadMs ?? 5000;
    this.piscina = new Piscina({
      filename: fileURLToPath(WORKER_URL),
      // run(), with the input buffers moved back for reuse (sandbox-worker.ts).
      name: 'runAndGiveBack',
      minThreads: 1,
      maxThreads: this.workers,
      idleTimeout: 30_000,
      // JavaScript heap of a worker is capped too; the plugin's own memory is capped by its wasm limit.
      resourceLimits: { maxOldGenerationSizeMb: 1024, maxYoungGenerationSizeMb: 64 },
    });
  }

  /** Runs one call of `p` on `c`; rejects with PluginCallError. */
  async call(p: LoadedPlugin, c: CallInput): Promise<CallResult> {
    return this.run(p, [c]).then((r) => {
      const x = r[0];
      if (!x) throw new Error('plugin pool: a call of one frame came back with no result');
      if (x instanceof PluginCallError) throw x;
      return x;
    });
  }

  /**
   * Runs several frames of one plugin as one batch: the models see them stacked along the batch
   * dimension (one inference), the plugin runs per frame. Each frame gets its own result or error.
   */
  async callBatch(p: LoadedPlugin, items: CallInput[]): Promise<Array<CallResult | PluginCallError>> {
    try {
      return await this.run(p, items);
    } catch (err) {
      return items.map(() => err as PluginCallError);
    }
  }

  private run(p: LoadedPlugin, items: CallInput[]): Promise<Array<CallResult | PluginCallError>> {
    if (this.closing) return Promise.reject(new PluginCallError('error', 'the plugin pool is closed'));
    return this.runOnce(p, items);
  }

  private async runOnce(p: LoadedPlugin, items: CallInput[]): Promise<Array<CallResult | PluginCallError>> {
    const c = items[0];
    if (!c) throw new Error('plugin pool: run() needs at least one frame');
    const batch = items.length > 1;
    const queuedAt = performance.now();
    const m = p.manifest;
    const stage = c.stage ?? 'frame';
    const inp = stage === 'crop' && m.cropStage ? m.cropStage.input : m.input;
    const models = p.models.filter((x) => x.stage === stage);
    const plan = models.length ? await this.planner.plan(p) : new Map();
    const task: WorkerTask = {
      wasmPath: p.wasmPath, memInitial: p.memoryInitialPages, memMax: p.memoryMaximumPages,
      maxOutputBytes: m.limits.maxOutputBytes ?? 1 << 20,
      exportName: stage === 'crop' && m.cropStage ? m.cropStage.export : 'rd_process',
      width: inp.width, height: inp.height, ptsMs: c.ptsMs, args: c.args, frameToPlugin: inp.frameToPlugin !== false,
      input: c.input, previous: batch ? undefined : c.previous,
      ...(batch ? { inputs: items.map((x) => x.input), ptsList: items.map((x) => x.ptsMs), argsList: items.map((x) => x.args) } : {}),
      inputDims: (inp.layout ?? 'nchw') === 'nchw' ? [1, 3, inp.height, inp.width] : [1, inp.height, inp.width, 3],
      // The model gets the tensor as preprocessing wrote it: uint8 stays uint8.
      dtype: inp.dtype ?? 'float32',
      models: models.map((x) => {
        const c = plan.get(x.path);
        return { path: x.path, inputName: x.inputName, outputNames: x.outputNames, ep: c ? [{ name: c.provider, ...(c.deviceId !== undefined ? { deviceId: c.deviceId } : {}) }] : [], threads: this.intraOpThreads };
      }),
    };
    // The deadline runs from the moment a worker starts the call (it says so on a port), not
    // from the queue: a busy pool must not make a well-behaved plugin look like it overran.
    const deadline = m.limits.callDeadlineMs * items.length + (p.models.length ? this.modelLoadMs : 0); // first use also loads the models
    const controller = new AbortController();
    const { port1, port2 } = new MessageChannel();
    // The worker holds 1 here while ONNX Runtime is inside a call (creating a session, running).
    const inOrt = new Int32Array(new SharedArrayBuffer(4));
    let timer: NodeJS.Timeout | undefined;
    let overran = false;
    let tellCaller: ((e: Error) => void) | undefined;
    const early = new Promise<never>((_, reject) => { tellCaller = reject; });
    early.catch(() => undefined);
    const overrun = () => new PluginCallError('deadline', `${m.AlgType} ${m.AlgVersion}: call exceeded ${m.limits.callDeadlineMs} ms; its worker was replaced`);
    const fire = () => {
      overran = true;
      // Terminating a worker while ONNX Runtime is inside a call aborts the whole process
      // (onnxruntime-node throws a C++ exception out of its callback), and a model run ends by
      // itself: the caller hears of the overrun now, the worker is replaced when ORT returns.
      if (Atomics.load(inOrt, 0) === 1) {
        tellCaller?.(overrun());
        timer = setTimeout(fire, 25);
        return;
      }
      controller.abort();
    };
    port1.once('message', () => { timer = setTimeout(fire, deadline); });
    const queueLimit = setTimeout(() => controller.abort(), 120_000);
    let r: WorkerReply;
    try {
      // A plain ArrayBuffer is moved to the worker (no copy; it is detached here afterwards);
      // a SharedArrayBuffer is shared as it is.
      const transferList = [...items.map((x) => x.input), batch ? undefined : c.previous].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer && b.byteLength > 0);
      const running = this.piscina.run({ ...task, port: port2, inOrt: inOrt.buffer as SharedArrayBuffer }, { signal: controller.signal, transferList: [...transferList, port2] });
      // close() waits for the worker's call, not only for the caller's answer.
      this.inflight.add(running);
      const settled = () => { this.inflight.delete(running); clearTimeout(timer); };
      running.then(settled, settled);
      r = await Promise.race([running, early]);
    } catch (err) {
      const e = err as Error;
      if (controller.signal.aborted && !overran) throw new PluginCallError('deadline', `${m.AlgType} ${m.AlgVersion}: waited 120 s for a free worker`);
      if (overran || e.name === 'AbortError') throw overrun();
      throw classify(m, e);
    } finally {
      // An overrun waiting for ONNX Runtime to return keeps its timer: it replaces the worker then.
      if (!overran) clearTimeout(timer);
      clearTimeout(queueLimit);
      port1.close();
    }
    const queueMs = Math.max(0, performance.now() - queuedAt - r.totalMs);
    const texts = r.outputs ?? [{ ok: true, text: r.output }];
    const providers = this.planner.record(p, models.map((x) => x.path), r.providers ?? []);
    return texts.map((o, i) => {
      if (!o.ok) return classify(m, new Error(o.error));
      let output: unknown;
      try {
        output = JSON.parse(o.text ?? '');
      } catch {
        return new PluginCallError('output', `${m.AlgType} ${m.AlgVersion}: output is not JSON`);
      }
      const input = r.returned?.[i] ?? undefined;
      return { output, providers, queueMs, inferMs: r.inferMs, postMs: r.postMs / texts.length, totalMs: performance.now() - queuedAt, batch: texts.length, ...(input ? { input } : {}) };
    });
  }

  /** Where each model of `p` runs (or will, once chosen), and why: for ModelInfo and status reports. */
  providers(p: LoadedPlugin): ProviderUse[] {
    return this.planner.current(p);
  }

  /** Worker threads alive now (tests watch replacements). */
  get threads(): number {
    return this.piscina.threads.length;
  }

  /**
   * Stops the pool: new calls are refused, calls already made are let finish (at most
   * CLOSE_WAIT_MS), then the workers go. Terminating a worker while ONNX Runtime is inside a
   * session call aborts the whole process (onnxruntime-node throws a C++ exception out of a
   * callback whose JavaScript is gone), so an executor shutting down mid-frame must wait.
   */
  async close(): Promise<void> {
    this.closing = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inflight]),
      new Promise<void>((r) => { timer = setTimeout(r, CLOSE_WAIT_MS); }),
    ]);
    clearTimeout(timer);
    await this.piscina.destroy();
  }
}
