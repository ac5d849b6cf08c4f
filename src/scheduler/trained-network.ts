/**
 * DEC2: a trained layered network goes to every tier. A training result with
 * TrainedModel.Sizes (runtime/runners/train-network.ts) is a whole dense network: it is
 * published as the next version of the package it was trained from (the base of the next
 * training), and for each entry of that package's manifest `tierParts` its layers [from, to)
 * are written as an ONNX model (plugins/network-onnx.ts) into the newest version of the part's
 * package (AlgID) and published as that package's next version — the feature-extracting first
 * layers for devices, the recognising head for edges. All signed with the trained-models key.
 * Every package is made before any is published: a part that cannot be made publishes nothing.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../log.ts';
import type { TaskResultBody } from '../protocol/index.ts';
import { buildPackage, verifyPackage, type VerifiedPackage } from '../plugins/package-file.ts';
import { TrustStore } from '../plugins/keys.ts';
import { networkFromWire, networkSizes, type DenseNetwork } from '../plugins/dense-network.ts';
import { checkRange, readNetworkOnnx, writeNetworkOnnx, type LayerRange } from '../plugins/network-onnx.ts';
import type { AlgorithmRepository, RepoEntry } from './repository.ts';
import { nextVersion } from './trained-version.ts';

/** What publishing a network needs of the scheduler. */
export interface NetworkPublishDeps {
  key: { privatePem: string };
  repository: AlgorithmRepository;
  log: Logger;
}

type ModelDecl = NonNullable<VerifiedPackage['manifest']['models']>[number];

/** A package as published, verified again here (it was when it was published), and its frame model. */
function packageAt(repo: AlgorithmRepository, algId: number, version: string, field: string): { v: VerifiedPackage; model: ModelDecl } {
  const pkg = repo.read(algId, version);
  if (!pkg) throw new Error(`${field}: AlgID ${algId} ${version} is not in the repository`);
  const v = verifyPackage(pkg, new TrustStore(), { devMode: true });
  const model = v.manifest.models?.find((x) => x.stage !== 'crop');
  if (!model) throw new Error(`${field}: AlgID ${algId} ${version} has no frame model to replace`);
  return { v, model };
}

/** `v` with `model`'s file replaced by `onnx`, as `version`, signed. */
function repack(v: VerifiedPackage, model: ModelDecl, onnx: Buffer, version: string, privatePem: string): Buffer {
  const files = new Map(v.files);
  files.set(model.file, onnx);
  const { files: _old, ...rest } = v.manifest;
  const models = (rest.models ?? []).map((x) => (x === model ? { ...x, ModelVersion: version, sha256: createHash('sha256').update(onnx).digest('hex') } : x));
  return buildPackage({ ...rest, AlgVersion: version, models }, files, privatePem);
}

/** The ONNX model of `range` of `net` for a package whose frame input is `input`; the field named on a mismatch. */
function partOnnx(net: DenseNetwork, input: { height: number; width: number }, range: LayerRange, doc: string, field: string): Buffer {
  try {
    return writeNetworkOnnx(net, { channels: 3, height: input.height, width: input.width }, range, doc);
  } catch (err) {
    throw new Error(`${field}: ${(err as Error).message}`);
  }
}

/**
 * Publishes the network a training task `taskId` sent (its result `body`, TrainedModel `tm`):
 * the whole as the next version of the package it came from, then every tier part; returns the
 * entries published, the whole first.
 */
export function publishTrainedNetwork(d: NetworkPublishDeps, taskId: string, body: TaskResultBody, tm: Record<string, unknown>): RepoEntry[] {
  const net = networkFromWire('TrainedModel', tm.Sizes, tm.Weights);
  const samples = tm.SampleCount;
  if (typeof samples !== 'number' || !Number.isInteger(samples) || samples < 1) throw new Error('TrainedModel.SampleCount: must be a positive integer');
  const sizes = networkSizes(net).join('×');
  const whole = packageAt(d.repository, body.AlgID, body.AlgVersion, 'TrainedModel');
  const was = readNetworkOnnx(whole.v.files.get(whole.model.file)!);
  if (!was || was.first !== 0 || !was.toOutput || networkSizes(was.network).join('×') !== sizes) {
    throw new Error(`TrainedModel.Sizes: ${sizes}, but AlgID ${body.AlgID} ${body.AlgVersion}'s model is ${was ? `layers of ${networkSizes(was.network).join('×')}` : 'not a dense network'}`);
  }
  const m = whole.v.manifest;
  const doc = `trained by task ${taskId} on ${samples} samples from AlgID ${m.AlgID} ${body.AlgVersion}`;
  const made: Array<{ pkg: Buffer; part?: string }> = [];
  made.push({ pkg: repack(whole.v, whole.model, partOnnx(net, m.input, { from: 0, to: net.layers.length }, doc, 'TrainedModel'), nextVersion(d.repository, m.AlgID), d.key.privatePem) });
  for (const [i, part] of (m.tierParts ?? []).entries()) {
    const field = `AlgID ${m.AlgID} tierParts[${i}]`;
    const range = { from: part.layers[0]!, to: part.layers[1]! };
    checkRange(`${field}.layers`, range, net.layers.length);
    const newest = d.repository.newest({ algId: part.AlgID });
    if (!newest) throw new Error(`${field}.AlgID: ${part.AlgID} is not in the repository; publish the part's package first`);
    const p = packageAt(d.repository, part.AlgID, newest.AlgVersion, `${field}.AlgID`);
    const onnx = partOnnx(net, p.v.manifest.input, range, `${doc}: layers ${range.from + 1}..${range.to} for DeviceType ${part.DeviceType}`, field);
    made.push({ pkg: repack(p.v, p.model, onnx, nextVersion(d.repository, part.AlgID), d.key.privatePem), part: `layers ${range.from + 1}..${range.to}, DeviceType ${part.DeviceType}` });
  }
  const out = made.map((x) => {
    const e = d.repository.publish(x.pkg, { trainedBy: taskId });
    d.log.info({ task: taskId, AlgID: e.AlgID, AlgVersion: e.AlgVersion, samples, sizes, ...(x.part ? { part: x.part } : {}) }, x.part ? 'trained network part published' : 'trained network published');
    return e;
  });
  return out;
}
