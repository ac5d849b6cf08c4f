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

/** What training learns from: the samples' labels, or the actions taken and their rewards (DC7). */
export type TrainObjective = 'labels' | 'reward';

/** Hyper-parameters of one training run (AlgArgs of a TaskType 7 task). */
export interface TrainArgs {
  Epochs: number;
  LearningRate: number;
  BatchSize: number;
  L2: number;
  /** Absent: "labels". */
  Objective?: TrainObjective;
}

export class TrainPool {
  private readonly piscina = new Piscina({
    filename: fileURLToPath(WORKER_URL), minThreads: 0, maxThreads: 1, idleTimeout: 10_000,
    resourceLimits: { maxOldGenerationSizeMb: 512 },
  });

  /** One epoch of `p`'s rd_train on `s` from `w`; rejects (naming the plugin) on a trap, overrun or malformed block. */
  async epoch(p: LoadedPlugin, s: SampleSet, w: ClassifierWeights, args: TrainArgs, epoch: number): Promise<TrainOutput> {
    const m = p.manifest;
    const u8 = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    // Objective "reward" (DC7): buffer 1 holds the actions taken, a fifth buffer their rewards.
    const reward = args.Objective === 'reward';
    if (reward && !s.feedback) throw new Error(`${m.AlgType} ${m.AlgVersion}: Objective "reward" needs samples with actions and rewards`);
    const bytes = await this.call(p, s, [u8(w.weights), u8(w.bias)], args, epoch, reward && s.feedback ? { actions: s.feedback.actions, rewards: u8(s.feedback.rewards) } : undefined);
    const out = decodeWeightsBlock(bytes, { dim: s.dim, classes: s.classes });
    // A plugin that knows no rewards would have trained on the actions as if they were labels.
    if (reward && out.metrics.MeanReward === undefined) throw new Error(`${m.AlgType} ${m.AlgVersion}: ${TRAIN_EXPORT} does not support Objective "reward" (its metrics lack MeanReward; docs/PLUGINS.md "Training ABI")`);
    return out;
  }

  /**
   * One epoch of `rd_train` over `s` with `weights` (the model's buffers after features and
   * labels: W and b of a head, or of each layer of a network); the plugin's output bytes,
   * unchecked. With `reward`, the actions take the labels' place and the rewards come last.
   */
  async call(p: LoadedPlugin, s: SampleSet, weights: Uint8Array[], args: TrainArgs, epoch: number, reward?: { actions: Uint8Array; rewards: Uint8Array }): Promise<Uint8Array> {
    const m = p.manifest;
    const call: TrainCall = {
      wasmPath: p.wasmPath, memInitial: p.memoryInitialPages, memMax: p.memoryMaximumPages,
      maxOutputBytes: m.limits.maxOutputBytes ?? 1 << 20, exportName: TRAIN_EXPORT, dim: s.dim, classes: s.classes,
      args: { LearningRate: args.LearningRate, BatchSize: args.BatchSize, L2: args.L2, Epoch: epoch, ...(reward ? { Objective: 1 } : {}) },
      buffers: [new Uint8Array(s.features.buffer, s.features.byteOffset, s.features.byteLength), reward ? reward.actions : s.labels, ...weights, ...(reward ? [reward.rewards] : [])],
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
