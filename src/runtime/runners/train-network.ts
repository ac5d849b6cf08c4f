/**
 * Training a layered network (DEC2): a TaskType 7 task whose package's model is a whole dense
 * network (network-onnx.ts: initializers W_1, b_1, W_2, …, ending in `probs`) goes through the
 * plugin's `rd_train` layer by layer — the same sandbox and pool as a head, its block "RDW2" —
 * and sends the whole network up; the scheduler cuts it into the parts its manifest's
 * `tierParts` name (devices extract features, edges recognise) and publishes each. A one-layer
 * head's model goes to runTrain (train.ts) as before. The network trains whole on one executor:
 * Federated, gradient exchange, int8 compression, Restart and the reward objective are the head's,
 * refused here by name.
 */
import { readFile } from 'node:fs/promises';
import type { ExecTask } from '../exec-task.ts';
import type { LoadedPlugin } from '../../plugins/registry.ts';
import type { TrainPool } from '../../plugins/train-pool.ts';
import { decodeNetworkBlock, networkAccuracy, networkBuffers, networkSizes, networkToWire, type DenseNetwork } from '../../plugins/dense-network.ts';
import { readNetworkOnnx } from '../../plugins/network-onnx.ts';
import type { SampleSet } from '../../plugins/train-blob.ts';
import { loadSampleSet } from '../sample-source.ts';
import type { RunContext } from './context.ts';
import { emitResult } from './emit.ts';
import { runTrain, trainArgs, TrainArgsError, TRAINED_MODEL_RESULT_TYPE } from './train.ts';
import { samplesFor } from './train-objective.ts';

/** AlgArgs that only a one-layer head's training understands. */
const HEAD_ONLY: ReadonlyArray<[string, (v: unknown) => boolean]> = [
  ['Federated', (v) => v === true], ['Exchange', (v) => v !== undefined && v !== 'weights'], ['TopK', (v) => v !== undefined],
  ['Compress', (v) => v !== undefined && v !== 'none'], ['Restart', (v) => v === true],
  // Learning from rewards (DC7) is the head's rd_train's; a network's learns from labels only.
  ['Objective', (v) => v !== undefined && v !== 'labels'],
];

/** A training task: a dense network's package trains here, any other through runTrain. */
export async function runTraining(ctx: RunContext, t: ExecTask, p: LoadedPlugin, pool: TrainPool): Promise<void> {
  const model = p.models.find((m) => m.stage === 'frame');
  const found = model ? readNetworkOnnx(await readFile(model.path)) : null;
  if (!found) return runTrain(ctx, t, p, pool);
  if (found.first !== 0 || !found.toOutput) {
    throw new TrainArgsError(`AlgID ${p.manifest.AlgID} ${p.manifest.AlgVersion}: its model is layers ${found.first + 1}..${found.first + found.network.layers.length} of a network, a part; train the package of the whole network`);
  }
  return runTrainNetwork(ctx, t, p, pool, found.network);
}

async function samplesAt(ctx: RunContext, url: string): Promise<SampleSet> {
  try {
    return await loadSampleSet(url, ctx.authFor);
  } catch (err) {
    throw new TrainArgsError((err as Error).message);
  }
}

/** Runs training task `t` on the network `start` (the dispatched version's) to its one result. */
async function runTrainNetwork(ctx: RunContext, t: ExecTask, p: LoadedPlugin, pool: TrainPool, start: DenseNetwork): Promise<void> {
  const args = trainArgs(t.algArgs);
  for (const [k, used] of HEAD_ONLY) {
    if (used(t.algArgs[k])) throw new TrainArgsError(`InputInfo.AlgArgs.${k}: AlgID ${p.manifest.AlgID} trains a layered network, whole on one executor; ${k} is for one-layer heads (docs/PLUGINS.md, "Training ABI")`);
  }
  const url = t.info.InputInfo.StreamURL;
  if (!url) throw new TrainArgsError('InputInfo.StreamURL: a training task names its sample set here');
  // An RDS2 set (a device's feedback) is learned from its labelled samples only.
  const samples = samplesFor('labels', await samplesAt(ctx, url));
  const sizes = networkSizes(start);
  if (samples.dim !== sizes[0] || samples.classes !== sizes[sizes.length - 1]) {
    throw new TrainArgsError(`InputInfo.StreamURL: samples are ${samples.dim}-dimensional with ${samples.classes} classes; the network takes ${sizes[0]} and gives ${sizes[sizes.length - 1]}`);
  }
  t.framesIn = samples.labels.length;
  let net = start;
  const history: Array<Record<string, number>> = [];
  for (let e = 0; e < args.Epochs; e++) {
    if (t.finished || ctx.closed) return; // stopped: no half-trained model goes out
    const r = decodeNetworkBlock(await pool.call(p, samples, networkBuffers(net), args, e), sizes);
    net = r.network;
    history.push(r.metrics);
    t.progress = Math.min(99, Math.round(((e + 1) * 100) / args.Epochs));
    ctx.changed(t);
  }
  const vurl = t.algArgs.ValidationURL;
  if (vurl !== undefined && typeof vurl !== 'string') throw new TrainArgsError('InputInfo.AlgArgs.ValidationURL: must be a URL text');
  let validation: number | undefined;
  if (vurl) {
    try { validation = networkAccuracy(net, await samplesAt(ctx, vurl)); } catch (err) { throw new TrainArgsError(`InputInfo.AlgArgs.ValidationURL: ${(err as Error).message}`); }
  }
  t.framesOut = 1;
  emitResult(ctx, t, {
    Ts: ctx.clock.now(),
    models: p.models.map((m) => ({ ModelID: m.ModelID, ModelVersion: m.ModelVersion })),
    TaskResultData: { AnalysisResult: [{ Type: TRAINED_MODEL_RESULT_TYPE, ResultData: { TrainedModel: {
      ...networkToWire(net), SampleCount: samples.labels.length, Epochs: args.Epochs, BaseVersion: p.manifest.AlgVersion,
      ...(validation !== undefined ? { ValidationAccuracy: validation } : {}), Metrics: history[history.length - 1] ?? {}, History: history,
    } } }] },
  });
  await ctx.outbox.flush(t.id, 30_000);
}
