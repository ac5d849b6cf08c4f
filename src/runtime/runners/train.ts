/**
 * A training task (TaskType 7, AI training): the task's sample set (InputInfo.StreamURL, an
 * "RDS1" file over HTTP(S) or a local file the URL policy allowed) goes through the plugin's
 * `rd_train` in the sandbox, one call per epoch, starting from the weights of the model the
 * dispatched AlgVersion ships. The result is one AnalysisResult whose ResultData.TrainedModel
 * carries the new weights and the metrics: the scheduler turns them into the next signed model
 * version (or, federated, averages them with the other edges'). Raw samples never leave here.
 */
import { readFile } from 'node:fs/promises';
import type { ExecTask } from '../exec-task.ts';
import type { LoadedPlugin } from '../../plugins/registry.ts';
import { readClassifierOnnx } from '../../plugins/onnx-writer.ts';
import { headAccuracy } from '../../plugins/head-eval.ts';
import { weightsToBase64, type SampleSet } from '../../plugins/train-blob.ts';
import { deltaToWire, weightDelta } from '../../plugins/weight-delta.ts';
import { loadSampleSet } from '../sample-source.ts';
import type { TrainArgs, TrainPool } from '../../plugins/train-pool.ts';
import type { RunContext } from './context.ts';
import { emitResult } from './emit.ts';
import { TrainArgsError } from './train-errors.ts';
import { objectiveArg, samplesFor } from './train-objective.ts';

/** AnalysisResult.Type of a training outcome (the task's TaskType, 7). */
export const TRAINED_MODEL_RESULT_TYPE = 7;

export { TrainArgsError };

/** AlgArgs of a training task, checked: each bad one is named with the rule. */
export function trainArgs(a: Record<string, unknown>): TrainArgs {
  const num = (k: string, def: number, min: number, max: number, integer: boolean): number => {
    const v = a[k] ?? def;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
      throw new TrainArgsError(`InputInfo.AlgArgs.${k}: ${JSON.stringify(v)} must be ${integer ? 'an integer' : 'a number'} in ${min}..${max}`);
    }
    return v;
  };
  const lr = num('LearningRate', 0.5, 0, 10, false);
  if (lr <= 0) throw new TrainArgsError('InputInfo.AlgArgs.LearningRate: must be above 0');
  return { Epochs: num('Epochs', 5, 1, 200, true), LearningRate: lr, BatchSize: num('BatchSize', 32, 1, 4096, true), L2: num('L2', 0.0001, 0, 1, false), Objective: objectiveArg(a) };
}

/**
 * What goes up (EE2): the weights (AlgArgs.Exchange "weights", the default) or the change the
 * training made to them ("gradients"), of which only the AlgArgs.TopK share of positions with the
 * largest change when TopK < 1.
 */
export function exchangeArgs(a: Record<string, unknown>): { gradients: boolean; share: number } {
  const ex = a.Exchange ?? 'weights';
  if (ex !== 'weights' && ex !== 'gradients') throw new TrainArgsError(`InputInfo.AlgArgs.Exchange: ${JSON.stringify(ex)} must be "weights" or "gradients"`);
  const share = a.TopK ?? 1;
  if (typeof share !== 'number' || !(share > 0 && share <= 1)) throw new TrainArgsError(`InputInfo.AlgArgs.TopK: ${JSON.stringify(share)} must be a number in (0, 1]`);
  if (share < 1 && ex !== 'gradients') throw new TrainArgsError('InputInfo.AlgArgs.TopK: only with Exchange "gradients" (weights are sent whole)');
  if (ex === 'gradients' && a.Restart === true) throw new TrainArgsError('InputInfo.AlgArgs.Restart: a change is added to the dispatched version, so it cannot start from zero');
  return { gradients: ex === 'gradients', share };
}

/**
 * DC6: AlgArgs.Compress "int8" has the scheduler publish the trained model compressed for devices
 * (int8 weights, a scale per class); checked here, where a bad value fails the task by name.
 */
export function compressArg(a: Record<string, unknown>): 'none' | 'int8' {
  const c = a.Compress ?? 'none';
  if (c !== 'none' && c !== 'int8') throw new TrainArgsError(`InputInfo.AlgArgs.Compress: ${JSON.stringify(c)} must be "none" or "int8"`);
  return c;
}

/** The sample set a training task names (HTTP(S), in checked ranges from an executor's store, or a local file). */
async function loadSamples(ctx: RunContext, url: string): Promise<SampleSet> {
  try {
    return await loadSampleSet(url, ctx.authFor);
  } catch (err) {
    throw new TrainArgsError((err as Error).message);
  }
}

/** Runs training task `t` on plugin `p` to its one result. */
export async function runTrain(ctx: RunContext, t: ExecTask, p: LoadedPlugin, pool: TrainPool): Promise<void> {
  const args = trainArgs(t.algArgs);
  const exchange = exchangeArgs(t.algArgs);
  compressArg(t.algArgs);
  const url = t.info.InputInfo.StreamURL;
  if (!url) throw new TrainArgsError('InputInfo.StreamURL: a training task names its sample set here');
  const model = p.models.find((m) => m.stage === 'frame');
  if (!model) throw new TrainArgsError(`AlgID ${p.manifest.AlgID} ${p.manifest.AlgVersion}: the package has no model to train`);
  // DC7: with Objective "reward" the samples that got a reward, else those with a label.
  const samples = samplesFor(args.Objective ?? 'labels', await loadSamples(ctx, url));
  let w = readClassifierOnnx(await readFile(model.path));
  // Restart: train from zero weights (a baseline), not from the dispatched version's model.
  if (t.algArgs.Restart === true) w = { ...w, weights: new Float32Array(w.weights.length), bias: new Float32Array(w.bias.length) };
  if (w.dim !== samples.dim || w.classes !== samples.classes) {
    throw new TrainArgsError(`InputInfo.StreamURL: samples are ${samples.dim}-dimensional with ${samples.classes} classes; the model takes ${w.dim} and ${w.classes}`);
  }
  t.framesIn = samples.labels.length;
  const start = w;
  const history: Array<Record<string, number>> = [];
  for (let e = 0; e < args.Epochs; e++) {
    if (t.finished || ctx.closed) return; // stopped: no half-trained model goes out
    const r = await pool.epoch(p, samples, w, args, e);
    w = r.weights;
    history.push(r.metrics);
    t.progress = Math.min(99, Math.round(((e + 1) * 100) / args.Epochs));
    ctx.changed(t);
  }
  // The accuracy check (AlgArgs.ValidationURL): on data the training did not see; the scheduler
  // publishes the model only when it reaches AlgArgs.MinAccuracy.
  const vurl = t.algArgs.ValidationURL;
  if (vurl !== undefined && typeof vurl !== 'string') throw new TrainArgsError('InputInfo.AlgArgs.ValidationURL: must be a URL text');
  const validation = vurl ? headAccuracy(w, await loadSamples(ctx, vurl)) : undefined;
  t.framesOut = 1;
  emitResult(ctx, t, {
    Ts: ctx.clock.now(),
    models: p.models.map((m) => ({ ModelID: m.ModelID, ModelVersion: m.ModelVersion })),
    TaskResultData: { AnalysisResult: [{ Type: TRAINED_MODEL_RESULT_TYPE, ResultData: { TrainedModel: {
      Dim: w.dim, Classes: w.classes, ...(args.Objective === 'reward' ? { Objective: 'reward' } : {}), Federated: t.algArgs.Federated === true, SampleCount: samples.labels.length, Epochs: args.Epochs, BaseVersion: p.manifest.AlgVersion,
      ...(exchange.gradients ? { Delta: deltaToWire(weightDelta(start, w, exchange.share)) } : { Weights: weightsToBase64(w) }), ...(validation !== undefined ? { ValidationAccuracy: validation } : {}), Metrics: history[history.length - 1] ?? {}, History: history,
    } } }] },
  });
  await ctx.outbox.flush(t.id, 30_000);
}
