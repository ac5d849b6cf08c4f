/**
 * EC2, EE2 (federated rounds) and DC3 (a training task publishes once) across a scheduler
 * restart: the round is read from the store, not from the memory of the process that saw its
 * first updates, and which task published which version is kept in the repository. Real SQLite
 * store, real repository on disk, the example digit classifier package, real ONNX written and
 * read back.
 */
import t from 'tap';
import path from 'node:path';
import { mkdirSync, readFileSync } from 'node:fs';
import { pino } from 'pino';
import { SchedulerStore } from '../../src/scheduler/store.ts';
import { AlgorithmRepository } from '../../src/scheduler/repository.ts';
import { TrainedModels, federatedAverage, trainedModelsKey, withTrainedKey } from '../../src/scheduler/trained-models.ts';
import { TrustStore } from '../../src/plugins/keys.ts';
import { readTarGz } from '../../src/plugins/package-file.ts';
import { readClassifierOnnx } from '../../src/plugins/onnx-writer.ts';
import type { ClassifierWeights } from '../../src/plugins/onnx-writer.ts';
import { applyDelta, deltaToWire, weightDelta } from '../../src/plugins/weight-delta.ts';
import { verifyPackage } from '../../src/plugins/package-file.ts';
import type { CustomInfo, TaskBasicInfo, TaskDispatchInfo, TaskResultBody } from '../../src/protocol/index.ts';
import { buildExamples, example } from '../helpers/examples.ts';

const log = pino({ level: 'silent' });
const DIM = 400, CLASSES = 10, ALG = 2201;

function weights(seed: number): ClassifierWeights {
  const w = new Float32Array(DIM * CLASSES).map((_, i) => Math.sin(seed * 7.1 + i * 0.37));
  const b = new Float32Array(CLASSES).map((_, i) => Math.cos(seed + i));
  return { dim: DIM, classes: CLASSES, weights: w, bias: b };
}
const b64 = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
function update(sub: string, w: ClassifierWeights, samples: number): TaskResultBody {
  // The blob the training runner sends: weights then bias, float32 little-endian.
  const blob = new Float32Array(DIM * CLASSES + CLASSES);
  blob.set(w.weights, 0); blob.set(w.bias, DIM * CLASSES);
  return { TaskID: sub, DeviceID: `edge-${sub}`, DstDeviceList: [], AlgID: ALG, AlgVersion: '1.0.0', Ts: Date.now(),
    TaskResultData: { AnalysisResult: [{ ResultData: { TrainedModel: { Weights: b64(blob), Dim: DIM, Classes: CLASSES, SampleCount: samples } } }] } } as unknown as TaskResultBody;
}

/** A scheduler's data directory: its trained-models key, trusted beside the examples' publisher key. */
function schedulerDir(dir: string) {
  const dataDir = path.join(dir, 'scheduler');
  mkdirSync(dataDir, { recursive: true });
  const key = trainedModelsKey(dataDir);
  const trust = withTrainedKey(new TrustStore(), key.publicPem);
  trust.add(readFileSync(path.join(path.dirname(example('digit_classifier-1.0.0')), 'keys', 'publisher.pub'), 'utf8'));
  return { dataDir, key, trust };
}

t.test('EC2, EE2, DC3: a federated round completes across a scheduler restart, and publishes once', async (t) => {
  t.equal(buildExamples(), 0, 'example plugins built');
  const dir = t.testdir({});
  const { dataDir, key, trust } = schedulerDir(dir);
  const open = () => {
    const store = new SchedulerStore(dataDir);
    const repository = new AlgorithmRepository(dataDir, trust);
    return { store, repository, trained: new TrainedModels({ key, repository, store, log }) };
  };

  let life = open();
  life.repository.publish(readFileSync(example('digit_classifier-1.0.0')));
  life.store.insertTask('round-1', { TaskName: 'round 1' } as unknown as TaskBasicInfo, { AlgID: ALG, AlgArgs: { Federated: true } } as unknown as CustomInfo, 1);
  for (const s of ['a', 'b', 'c']) life.store.insertSubtask({ subtaskId: s, taskId: 'round-1', deviceId: `edge-${s}`, dispatch: {} as TaskDispatchInfo, status: 1 });
  const updates = [{ sub: 'a', w: weights(1), n: 500 }, { sub: 'b', w: weights(2), n: 300 }, { sub: 'c', w: weights(3), n: 200 }];
  const deliver = (u: (typeof updates)[number]) => {
    const body = update(u.sub, u.w, u.n);
    t.ok(life.store.insertResult('round-1', body, `edge-${u.sub}#1`), `edge ${u.sub}'s update stored`);
    life.trained.onResult('round-1', body);
  };

  deliver(updates[0]!);
  t.equal(life.repository.list().length, 1, 'one edge of three: nothing published yet');
  // The scheduler process ends between two edges' updates; a new one opens the same files.
  life.store.close();
  life = open();
  deliver(updates[1]!);
  t.equal(life.repository.list().length, 1, 'two of three: still waiting');
  deliver(updates[2]!);
  const published = life.repository.list().filter((e) => e.AlgVersion !== '1.0.0');
  t.equal(published.length, 1, 'the third update completes the round after the restart: one version published');
  t.equal(published[0]?.trainedBy, 'round-1', 'the repository records which task it came from');

  const model = readClassifierOnnx(readTarGz(life.repository.read(ALG, published[0]!.AlgVersion)!).get('files/models/digits.onnx')!);
  const expected = federatedAverage(updates.map((u) => ({ weights: u.w, samples: u.n })));
  let maxErr = 0;
  for (let i = 0; i < expected.weights.length; i++) maxErr = Math.max(maxErr, Math.abs(expected.weights[i]! - model.weights[i]!));
  t.ok(maxErr < 1e-6, `the published weights are the FedAvg of all three updates, the one before the restart included (max error ${maxErr.toExponential(1)})`);

  // Restarted again, a late duplicate of the round's result (another CommandIdx) publishes nothing more.
  life.store.close();
  life = open();
  const again = update('c', weights(9), 10);
  life.store.insertResult('round-1', again, 'edge-c#2');
  life.trained.onResult('round-1', again);
  t.equal(life.repository.list().length, 2, 'a task publishes once, across restarts');
  life.store.close();
});

t.test('EE2: a round of changes (gradient exchange, whole and top-k) is added to the version the edges started from', async (t) => {
  const dir = t.testdir({});
  const { dataDir, key, trust } = schedulerDir(dir);
  const store = new SchedulerStore(dataDir);
  t.teardown(() => store.close());
  const repository = new AlgorithmRepository(dataDir, trust);
  const warnings: string[] = [];
  const trained = new TrainedModels({ key, repository, store, log: pino({ level: 'warn' }, { write: (l: string) => { warnings.push(l); } }) });
  const pkg = readFileSync(example('digit_classifier-1.0.0'));
  repository.publish(pkg);
  const v = verifyPackage(pkg, trust);
  const model = v.manifest.models!.find((m) => m.stage !== 'crop')!;
  const base = readClassifierOnnx(v.files.get(model.file)!);
  const edges = [{ sub: 'a', w: weights(4), n: 400 }, { sub: 'b', w: weights(5), n: 100 }];
  const changeOf = (w: ClassifierWeights) => ({ dim: DIM, classes: CLASSES, weights: w.weights.map((x, i) => base.weights[i]! + x * 0.01), bias: w.bias.map((x, i) => base.bias[i]! + x * 0.01) });
  const round = (id: string, share: number, corrupt = false) => {
    store.insertTask(id, { TaskName: id } as unknown as TaskBasicInfo, { AlgID: ALG, AlgArgs: { Federated: true, Exchange: 'gradients', TopK: share } } as unknown as CustomInfo, 1);
    for (const e of edges) store.insertSubtask({ subtaskId: `${id}.${e.sub}`, taskId: id, deviceId: `edge-${e.sub}`, dispatch: {} as TaskDispatchInfo, status: 1 });
    for (const [i, e] of edges.entries()) {
      const delta = weightDelta(base, changeOf(e.w), share);
      const wire = corrupt && i === 1 ? { Values: deltaToWire(delta).Values } : deltaToWire(delta); // sparse values without their positions
      const body = { TaskID: `${id}.${e.sub}`, DeviceID: `edge-${e.sub}`, DstDeviceList: [], AlgID: ALG, AlgVersion: '1.0.0', Ts: 1,
        TaskResultData: { AnalysisResult: [{ ResultData: { TrainedModel: { Delta: wire, Dim: DIM, Classes: CLASSES, SampleCount: e.n } } }] } } as unknown as TaskResultBody;
      store.insertResult(id, body, `${id}#${i}`);
      trained.onResult(id, body);
    }
    return repository.list().find((x) => x.trainedBy === id);
  };
  const maxErr = (a: ClassifierWeights, b: ClassifierWeights) => Math.max(...[...a.weights, ...a.bias].map((x, i) => Math.abs(x - [...b.weights, ...b.bias][i]!)));
  const read = (e: { AlgVersion: string }) => readClassifierOnnx(readTarGz(repository.read(ALG, e.AlgVersion)!).get('files/models/digits.onnx')!);

  const whole = round('g-whole', 1);
  t.ok(whole, 'whole changes: a version published');
  const fedAvg = federatedAverage(edges.map((e) => ({ weights: changeOf(e.w), samples: e.n })));
  t.ok(maxErr(read(whole!), fedAvg) < 1e-5, 'whole changes give exactly FedAvg of the weights the edges trained');

  const sparse = round('g-top10', 0.1);
  t.ok(sparse, 'top-10 % changes: a version published');
  const expected = federatedAverage(edges.map((e) => ({ weights: applyDelta(base, weightDelta(base, changeOf(e.w), 0.1)), samples: e.n })));
  t.ok(maxErr(read(sparse!), expected) < 1e-5, 'top-k: the base plus the sample-weighted mean of the kept changes');
  t.ok(maxErr(read(sparse!), base) > 0, 'and it moved from the base');

  t.notOk(round('g-bad', 0.1, true), 'a round with an unreadable change publishes nothing');
  t.match(warnings.join(''), /TrainedModel\.Delta\.Values: 401 values; a dense delta of 400×10 weights and 10 biases has 4010/, 'the refusal names the field and the rule');
});
