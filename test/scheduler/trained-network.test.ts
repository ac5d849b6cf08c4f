/**
 * DEC2: a trained network becomes a version for every tier. The scheduler publishes the whole
 * network as the next version of digit_mlp and cuts it into the parts its manifest's tierParts
 * name — layer 1 into digit_mlp_features (devices), layer 2 into digit_mlp_head (edges) — each
 * signed with the trained-models key; a result delivered twice publishes once. A part that
 * cannot be made (its package missing) or a network of other sizes publishes nothing, naming
 * the field. Real repository on disk, the example packages, real ONNX written and read back.
 */
import t from 'tap';
import path from 'node:path';
import { mkdirSync, readFileSync } from 'node:fs';
import { pino } from 'pino';
import { SchedulerStore } from '../../src/scheduler/store.ts';
import { AlgorithmRepository } from '../../src/scheduler/repository.ts';
import { TrainedModels, trainedModelsKey, withTrainedKey } from '../../src/scheduler/trained-models.ts';
import { publishTrainedNetwork } from '../../src/scheduler/trained-network.ts';
import { createPublicKey } from 'node:crypto';
import { keyId, TrustStore } from '../../src/plugins/keys.ts';
import { verifyPackage } from '../../src/plugins/package-file.ts';
import { networkToWire, type DenseNetwork } from '../../src/plugins/dense-network.ts';
import { readNetworkOnnx } from '../../src/plugins/network-onnx.ts';
import type { TaskResultBody } from '../../src/protocol/index.ts';
import { buildExamples, example } from '../helpers/examples.ts';

const log = pino({ level: 'silent' });

function network(sizes: number[]): DenseNetwork {
  return { layers: sizes.slice(1).map((o, k) => ({ inDim: sizes[k]!, outDim: o, weights: Float32Array.from({ length: sizes[k]! * o }, (_, i) => Math.sin(i * 0.37 + k)), bias: Float32Array.from({ length: o }, (_, i) => Math.cos(i + k)) })) };
}
function result(net: DenseNetwork): TaskResultBody {
  return { TaskID: 'train-1', DeviceID: 'cloud', DstDeviceList: [], AlgID: 2210, AlgVersion: '1.0.0', Ts: Date.now(),
    TaskResultData: { AnalysisResult: [{ Type: 7, ResultData: { TrainedModel: { ...networkToWire(net), SampleCount: 4000 } } }] } } as unknown as TaskResultBody;
}

/** A scheduler directory whose repository holds the given example packages. */
function repoWith(dir: string, names: string[]) {
  const dataDir = path.join(dir, 'scheduler');
  mkdirSync(dataDir, { recursive: true });
  const key = trainedModelsKey(dataDir);
  const trust = withTrainedKey(new TrustStore(), key.publicPem);
  trust.add(readFileSync(path.join(path.dirname(example('digit_mlp-1.0.0')), 'keys', 'publisher.pub'), 'utf8'));
  const repository = new AlgorithmRepository(dataDir, trust);
  for (const n of names) repository.publish(readFileSync(example(`${n}-1.0.0`)));
  return { dataDir, key, trust, repository };
}

const tm = (b: TaskResultBody) => b.TaskResultData.AnalysisResult![0]!.ResultData!.TrainedModel as Record<string, unknown>;

t.test('DEC2: the whole network and its device and edge parts are published, signed; a result delivered twice publishes once', async (t) => {
  t.equal(buildExamples(), 0, 'example plugins built');
  const { dataDir, key, trust, repository } = repoWith(t.testdir({}), ['digit_mlp', 'digit_mlp_features', 'digit_mlp_head']);
  const net = network([400, 64, 10]);
  const out = publishTrainedNetwork({ key, repository, log }, 'train-1', result(net), tm(result(net)));
  t.strictSame(out.map((e) => `${e.AlgID} ${e.AlgVersion}`), ['2210 1.0.1', '2211 1.0.1', '2212 1.0.1'], 'the whole, then the device part, then the edge part');
  const model = (alg: number) => {
    const v = verifyPackage(repository.read(alg, '1.0.1')!, trust);
    t.equal(v.signedBy, keyId(createPublicKey(key.publicPem)), `AlgID ${alg} signed with the trained-models key`);
    t.equal(v.manifest.models![0]!.ModelVersion, '1.0.1', `AlgID ${alg}'s model is version 1.0.1`);
    return readNetworkOnnx(v.files.get(v.manifest.models![0]!.file)!)!;
  };
  const whole = model(2210), device = model(2211), edge = model(2212);
  t.ok(whole.first === 0 && whole.toOutput && whole.network.layers.length === 2, 'digit_mlp holds the whole network');
  t.ok(device.first === 0 && !device.toOutput && device.network.layers.length === 1, 'the device part holds layer 1 and gives features');
  t.ok(edge.first === 1 && edge.toOutput && edge.network.layers.length === 1, 'the edge part holds layer 2 and gives probs');
  t.strictSame(Array.from(device.network.layers[0]!.weights), Array.from(net.layers[0]!.weights), 'layer 1\'s weights as trained');
  t.strictSame(Array.from(edge.network.layers[0]!.bias), Array.from(net.layers[1]!.bias), 'layer 2\'s biases as trained');
  // Through TrainedModels: a result of a task that already published is not published again.
  const store = new SchedulerStore(dataDir);
  t.teardown(() => store.close());
  const trained = new TrainedModels({ key, repository, store, log });
  trained.onResult('train-1', result(net));
  trained.onResult('train-2', result(net));
  trained.onResult('train-2', result(net));
  t.strictSame(repository.list().filter((e) => e.AlgID === 2211).map((e) => e.AlgVersion).sort(), ['1.0.0', '1.0.1', '1.0.2'], 'train-1 published before, train-2 once');
});

t.test('DEC2: a part that cannot be made, or a network of other sizes, publishes nothing and names the field', async (t) => {
  t.equal(buildExamples(), 0, 'example plugins built');
  const { key, repository } = repoWith(t.testdir({}), ['digit_mlp', 'digit_mlp_features']);
  const net = network([400, 64, 10]);
  t.throws(() => publishTrainedNetwork({ key, repository, log }, 'train-1', result(net), tm(result(net))), /AlgID 2210 tierParts\[1\]\.AlgID: 2212 is not in the repository; publish the part's package first/);
  const other = network([400, 32, 10]);
  t.throws(() => publishTrainedNetwork({ key, repository, log }, 'train-1', result(other), tm(result(other))), /TrainedModel\.Sizes: 400×32×10, but AlgID 2210 1\.0\.0's model is layers of 400×64×10/);
  t.throws(() => publishTrainedNetwork({ key, repository, log }, 'train-1', result(net), { ...tm(result(net)), SampleCount: 0 }), /TrainedModel\.SampleCount: must be a positive integer/);
  t.strictSame(repository.list().map((e) => `${e.AlgID} ${e.AlgVersion}`).sort(), ['2210 1.0.0', '2211 1.0.0'], 'nothing published: not even the whole network');
});
