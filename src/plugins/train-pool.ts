/**
 * The host side of the training ABI: runs a plugin's `rd_train` over a sample set and the
 * current weights in the sandbox (train-worker.ts, its own small Piscina pool so a long epoch
 * never holds a frame's worker), one call per epoch, and checks what comes back.
 */
import { Piscina } from 'piscina';
import { fileURLToPath } from 'node:url';
import type { LoadedPlugin } from './loaded-plugin.ts';
import { decodeWeightsBlock, type SampleSet, type TrainOutput } from './train-blob.ts';
import type { ClassifierWeights } from './onnx-writer.ts';
import type { TrainCall } from './train-worker.ts';

const WORKER_URL = import.meta.url.endsWith('.ts') ? new URL('./train-worker.ts', import.meta.url) : new URL('./train-worker.js', import.meta.url);

/** The export a training plugin provides beside `rd_process`. */
export const TRAIN_EXPORT = 'rd_train';

/** Hyper-parameters of one training run (AlgArgs of a TaskType 7 task). */
export interface TrainArgs {
  Epochs: number;
  LearningRate: number;
  BatchSize: number;
  L2: number;
}

export class TrainPool {
  private readonly piscina = new Piscina({
    filename: fileURLToPath(WORKER_URL), minThreads: 0, maxThreads: 1, idleTimeout: 10_000,
    resourceLimits: { maxOldGenerationSizeMb: 512 },
  });

  /** One epoch of `p`'s rd_train on `s` from `w`; rejects (naming the plugin) on a trap, overrun or malformed block. */
  async epoch(p: LoadedPlugin, s: SampleSet, w: ClassifierWeights, args: TrainArgs, epoch: number): Promise<TrainOutput> {
    const u8 = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    return decodeWeightsBlock(await this.call(p, s, [u8(w.weights), u8(w.bias)], args, epoch), { dim: s.dim, classes: s.classes });
  }

  /**
   * One epoch of `rd_train` over `s` with `weights` (the model's buffers after features and
   * labels: W and b of a head, or of each layer of a network); the plugin's output bytes, unchecked.
   */
  async call(p: LoadedPlugin, s: SampleSet, weights: Uint8Array[], args: TrainArgs, epoch: number): Promise<Uint8Array> {
    const m = p.manifest;
    const call: TrainCall = {
      wasmPath: p.wasmPath, memInitial: p.memoryInitialPages, memMax: p.memoryMaximumPages,
      maxOutputBytes: m.limits.maxOutputBytes ?? 1 << 20, exportName: TRAIN_EXPORT, dim: s.dim, classes: s.classes,
      args: { LearningRate: args.LearningRate, BatchSize: args.BatchSize, L2: args.L2, Epoch: epoch },
      buffers: [new Uint8Array(s.features.buffer, s.features.byteOffset, s.features.byteLength), s.labels, ...weights],
    };
    // Training calls have no ONNX Runtime inside: an overrun terminates the worker at once.
    const signal = AbortSignal.timeout(m.limits.callDeadlineMs);
    try {
      return await this.piscina.run(call, { signal }) as Uint8Array;
    } catch (err) {
      const e = err as Error;
      if (signal.aborted) throw new Error(`${m.AlgType} ${m.AlgVersion}: ${TRAIN_EXPORT} exceeded limits.callDeadlineMs (${m.limits.callDeadlineMs} ms) for one epoch of ${s.labels.length} samples`);
      throw new Error(`${m.AlgType} ${m.AlgVersion}: ${TRAIN_EXPORT} failed: ${e.message}`);
    }
  }

  async close(): Promise<void> {
    await this.piscina.destroy();
  }
}
