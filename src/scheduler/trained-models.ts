/**
 * Trained models become algorithm versions (DC3, EC7, DC5, EC2): a training task's result
 * (ResultData.TrainedModel: weights, sample count, metrics) is turned into an ONNX model
 * (plugins/onnx-writer.ts), packed with the package it was trained from as the next AlgVersion,
 * signed with the scheduler's trained-models key and published to the repository, from where
 * dispatches and TaskUpdate push it down. A federated task's rounds (AlgArgs.Federated) are
 * averaged first: each edge's weights count by its SampleCount (FedAvg) and only the aggregate
 * is published. The key is <data-dir>/trained-models.key; executors trust its .pub.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Logger } from '../log.ts';
import { compareVersions, type TaskResultBody } from '../protocol/index.ts';
import { buildPackage, verifyPackage } from '../plugins/package-file.ts';
import { generateKeys, TrustStore } from '../plugins/keys.ts';
import { readClassifierOnnx, writeClassifierOnnx, type ClassifierWeights } from '../plugins/onnx-writer.ts';
import { applyDelta, deltaFromWire } from '../plugins/weight-delta.ts';
import { weightsFromBase64 } from '../plugins/train-blob.ts';
import type { AlgorithmRepository } from './repository.ts';
import { nextVersion } from './trained-version.ts';
import { publishTrainedNetwork } from './trained-network.ts';
import { ACTIVE_STATUSES, type SchedulerStateStore } from './store.ts';
import { updateTask, type TaskUpdateParts } from './task-update.ts';

/** The scheduler's signing key for trained models: read from the data directory, made on first start. */
export function trainedModelsKey(dataDir: string): { privatePem: string; publicPem: string } {
  const key = path.join(dataDir, 'trained-models.key');
  const pub = path.join(dataDir, 'trained-models.pub');
  if (!existsSync(key)) {
    const k = generateKeys();
    writeFileSync(key, k.privatePem, { mode: 0o600 });
    writeFileSync(pub, k.publicPem);
  }
  return { privatePem: readFileSync(key, 'utf8'), publicPem: readFileSync(pub, 'utf8') };
}

/** `trust` with the trained-models key added: the repository accepts what this scheduler signs. */
export function withTrainedKey(trust: TrustStore, publicPem: string): TrustStore {
  trust.add(publicPem);
  return trust;
}

/** One edge's update in a federated round. */
interface Update { weights: ClassifierWeights; samples: number }

/** FedAvg: the average of the updates, each weighted by its sample count. */
export function federatedAverage(updates: ReadonlyArray<Update>): ClassifierWeights {
  const [first] = updates;
  if (!first) throw new Error('federatedAverage: no updates');
  const total = updates.reduce((s, u) => s + u.samples, 0);
  const weights = new Float32Array(first.weights.weights.length);
  const bias = new Float32Array(first.weights.bias.length);
  for (const u of updates) {
    const f = u.samples / total;
    u.weights.weights.forEach((v, i) => { weights[i]! += f * v; });
    u.weights.bias.forEach((v, i) => { bias[i]! += f * v; });
  }
  return { dim: first.weights.dim, classes: first.weights.classes, weights, bias };
}

/** The weights of a published version's trained model (the base an edge's change is added to). */
type BaseOf = (algId: number, version: string) => ClassifierWeights;

/**
 * The weights a training result stands for: sent whole (TrainedModel.Weights), or as the change
 * from the version the edge was dispatched (TrainedModel.Delta, EE2) added to that version.
 */
function updateOf(body: TaskResultBody, base: BaseOf): Update {
  const tm = body.TaskResultData.AnalysisResult?.[0]?.ResultData?.TrainedModel as Record<string, unknown> | undefined;
  if (!tm) throw new Error('ResultData.TrainedModel: missing');
  const dim = Number(tm.Dim), classes = Number(tm.Classes), samples = Number(tm.SampleCount);
  if (!Number.isInteger(samples) || samples < 1) throw new Error('TrainedModel.SampleCount: must be a positive integer');
  if (tm.Delta !== undefined) {
    const from = base(body.AlgID, body.AlgVersion);
    if (from.dim !== dim || from.classes !== classes) throw new Error(`TrainedModel.Dim/Classes: ${dim}×${classes}, the base version ${body.AlgVersion} is ${from.dim}×${from.classes}`);
    return { weights: applyDelta(from, deltaFromWire('TrainedModel.Delta', tm.Delta, dim, classes)), samples };
  }
  if (typeof tm.Weights !== 'string') throw new Error('TrainedModel.Weights: must be base64 text (or Delta, the change)');
  return { weights: weightsFromBase64('TrainedModel.Weights', tm.Weights, dim, classes), samples };
}

/** A federated round as stored: each subtask's latest readable update (a subtask that trained again counts once). */
function storedRound(store: SchedulerStateStore, taskId: string, base: BaseOf): Map<string, Update> {
  const round = new Map<string, Update>();
  for (let after = 0; ;) {
    const page = store.results(taskId, after, 200);
    for (const r of page) {
      if (!r.body.TaskResultData.AnalysisResult?.[0]?.ResultData?.TrainedModel) continue;
      try { round.set(r.body.TaskID, updateOf(r.body, base)); } catch { /* refused when it arrived: logged then */ }
    }
    if (page.length < 200) return round;
    after = page[page.length - 1]!.seq;
  }
}

export interface TrainedModelsDeps {
  key: { privatePem: string; publicPem: string };
  repository: AlgorithmRepository;
  store: SchedulerStateStore;
  log: Logger;
  /** How a published version reaches running tasks whose policy allows it (SB2's TaskUpdate). */
  update?: TaskUpdateParts;
}

/**
 * A running task's model-update policy, AlgArgs.ModelUpdate (the host's, like StartOffsetMs):
 * "switch" moves it to a newly trained version at a frame boundary; anything else, or none,
 * keeps it on its version and only new tasks get the new one.
 */
export const MODEL_UPDATE_SWITCH = 'switch';

export class TrainedModels {
  /**
   * Training tasks already judged (published, or refused by their accuracy check). A result
   * delivered twice publishes once; after a restart the repository says which tasks published
   * (`trainedBy` of its entries), so this set is only a cache of it.
   */
  private readonly done = new Set<string>();

  constructor(private readonly d: TrainedModelsDeps) {}

  /** A published version's model weights, read from its package (the base of an edge's change). */
  private readonly bases = new Map<string, ClassifierWeights>();
  private readonly base: BaseOf = (algId, version) => {
    const hit = this.bases.get(`${algId}@${version}`);
    if (hit) return hit;
    const pkg = this.d.repository.read(algId, version);
    if (!pkg) throw new Error(`TrainedModel.Delta: base AlgID ${algId} ${version} is not in the repository`);
    const v = verifyPackage(pkg, new TrustStore(), { devMode: true }); // verified when it was published
    const model = v.manifest.models?.find((x) => x.stage !== 'crop');
    const onnx = model && v.files.get(model.file);
    if (!onnx) throw new Error(`TrainedModel.Delta: base AlgID ${algId} ${version} has no frame model`);
    const w = readClassifierOnnx(onnx);
    if (this.bases.size >= 8) this.bases.delete(this.bases.keys().next().value!); // a published version never changes
    this.bases.set(`${algId}@${version}`, w);
    return w;
  };

  /** Takes in a stored task result; publishes a version when it completes a training task. */
  onResult(taskId: string, body: TaskResultBody): void {
    const tm = body.TaskResultData.AnalysisResult?.[0]?.ResultData?.TrainedModel as Record<string, unknown> | undefined;
    if (!tm || this.done.has(taskId)) return;
    if (this.d.repository.list().some((e) => e.trainedBy === taskId)) { this.done.add(taskId); return; }
    try {
      const task = this.d.store.task(taskId);
      const custom = task ? JSON.parse(task.custom_info) as { AlgArgs?: Record<string, unknown> } : {};
      // The accuracy check: below the task's MinAccuracy the version is not published (rolled back
      // before roll-out: running and new tasks keep the current one).
      const min = custom.AlgArgs?.MinAccuracy;
      if (typeof min === 'number' && !(typeof tm.ValidationAccuracy === 'number' && tm.ValidationAccuracy >= min)) {
        this.done.add(taskId);
        this.d.log.warn({ task: taskId, validation: tm.ValidationAccuracy, min }, 'trained model failed its accuracy check; not published');
        return;
      }
      // DEC2: a layered network (TrainedModel.Sizes) is published whole and cut into its tiers' parts.
      if (tm.Sizes !== undefined) {
        const published = publishTrainedNetwork(this.d, taskId, body, tm);
        this.done.add(taskId);
        for (const e of published) void this.pushDown(e.AlgID, e.AlgVersion);
        return;
      }
      const { weights, samples } = updateOf(body, this.base);
      if (custom.AlgArgs?.Federated === true) {
        // The round is what the store holds, not what this process saw: a scheduler restarted
        // (or a replica that took the lead) between two edges' updates still completes it.
        const round = storedRound(this.d.store, taskId, this.base);
        if (round.size < this.d.store.subtasks(taskId).length) return; // wait for the other edges
        const updates = [...round.values()];
        this.publish(taskId, body, federatedAverage(updates), updates.reduce((s, u) => s + u.samples, 0));
      } else {
        this.publish(taskId, body, weights, samples);
      }
    } catch (err) {
      this.d.log.warn({ task: taskId, err: (err as Error).message }, 'trained model refused');
    }
  }

  /** Packs `w` into the package it was trained from as the next version, signs and publishes it. */
  private publish(taskId: string, body: TaskResultBody, w: ClassifierWeights, samples: number): void {
    const base = this.d.repository.read(body.AlgID, body.AlgVersion);
    if (!base) throw new Error(`AlgID ${body.AlgID} ${body.AlgVersion}: not in the repository, nothing to pack the model into`);
    const v = verifyPackage(base, new TrustStore(), { devMode: true }); // verified when it was published
    const m = v.manifest;
    const model = m.models?.find((x) => x.stage !== 'crop');
    if (!model) throw new Error(`AlgID ${body.AlgID} ${body.AlgVersion}: the package has no frame model`);
    const version = nextVersion(this.d.repository, m.AlgID);
    // DC6: compressed for devices when the training task asked (the executor checked the value).
    const task = this.d.store.task(taskId);
    const compress = task && (JSON.parse(task.custom_info) as { AlgArgs?: { Compress?: unknown } }).AlgArgs?.Compress === 'int8' ? 'int8' : 'none';
    const onnx = writeClassifierOnnx(w, { channels: 3, height: m.input.height, width: m.input.width }, `trained by task ${taskId} on ${samples} samples from ${body.AlgVersion}${compress === 'int8' ? ', int8' : ''}`, compress);
    const files = new Map(v.files);
    files.set(model.file, onnx);
    const { files: _old, ...rest } = m;
    const manifest = { ...rest, AlgVersion: version, models: (m.models ?? []).map((x) => (x === model ? { ...x, ModelVersion: version, sha256: createHash('sha256').update(onnx).digest('hex') } : x)) };
    const entry = this.d.repository.publish(buildPackage(manifest, files, this.d.key.privatePem), { trainedBy: taskId });
    this.done.add(taskId);
    this.d.log.info({ task: taskId, AlgID: entry.AlgID, AlgVersion: entry.AlgVersion, samples }, 'trained model published');
    void this.pushDown(entry.AlgID, entry.AlgVersion);
  }

  /** DEC2, EC3: running tasks of the algorithm whose policy says "switch" move to `version`, rolling. */
  private async pushDown(algId: number, version: string): Promise<void> {
    const parts = this.d.update;
    if (!parts) return;
    for (const task of this.d.store.tasksByStatus(ACTIVE_STATUSES)) {
      const custom = JSON.parse(task.custom_info) as { AlgID?: number; AlgArgs?: Record<string, unknown> };
      // EC8: a task that co-evolves (AlgArgs.CoEvolve) takes what its rounds train.
      if (custom.AlgArgs?.ModelUpdate !== MODEL_UPDATE_SWITCH && custom.AlgArgs?.CoEvolve === undefined) continue;
      const subs = this.d.store.subtasks(task.task_id).filter((s) => ACTIVE_STATUSES.includes(s.status));
      const behind = subs.some((s) => { const a = (JSON.parse(s.dispatch_info) as { AlgModelInfo: { AlgID: number; AlgVersion: string } }).AlgModelInfo; return a.AlgID === algId && compareVersions(a.AlgVersion, version) < 0; });
      if (!behind) continue;
      const out = await updateTask(parts, task.task_id, { AlgVersion: version, MaxParallel: 1 });
      this.d.log.info({ task: task.task_id, version, outcomes: out?.map((o) => `${o.DeviceID}:${o.StatusCode}${o.Message ? ` ${o.Message}` : ''}`) }, 'trained model pushed to a running task');
    }
  }
}
