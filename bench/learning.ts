/**
 * The learning loop's figures (issue 17), each measured across real processes by its test on
 * OpenCV's handwritten digits: this runs those tests and writes the FIGURE lines they print
 * into bench/results/learning.{json,md}, with the commit and the machine. A figure appears
 * here only when its test passed in this run.
 *   node --import tsx bench/learning.ts
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const tests: Array<{ file: string; what: string; setup: string }> = [
  { file: 'test/integration/learning-cloud.test.ts', what: 'Cloud-trained model pushed to two edges (DC3, EC3, EC7)',
    setup: 'Before: version 1.0.0 (zero weights). The cloud executor (DeviceType 2) trains 5 epochs on the 4,000-digit pool (TaskType 7); the scheduler publishes 1.0.1, signed with its trained-models key; a new inference task on edge-2 and edge-3 fetches and runs it.' },
  { file: 'test/integration/learning-federated.test.ts', what: 'Federated, three edges with skewed shards, 10 rounds (EC2, EE2, EE3)',
    setup: 'Shards of the pool on the edges\' own disks, each mostly its own classes (0–3, 4–6, 7–9; one sample in ten goes to another edge). A round: one local epoch per edge from the current global version, FedAvg by sample count at the scheduler, the aggregate published and evaluated on edge-1. Baselines, 10 epochs from zero: edge-1\'s shard alone, and all shards pooled.' },
  { file: 'test/integration/learning-gradients.test.ts', what: 'Gradient exchange, top-10 %, three edges, 5 rounds (EE2)',
    setup: 'The same skewed shards; each edge trains one epoch per round from the current version and sends only the change its training made, and of it only the 10 % of positions that changed most (AlgArgs.Exchange "gradients", TopK 0.1). The scheduler adds the sample-weighted mean of the changes to the version they started from. Bytes: base64 of the change as sent (positions and values) against base64 of whole weights.' },
  { file: 'test/integration/learning-compress.test.ts', what: 'The cloud model compressed for devices, int8 (DC6)',
    setup: 'The cloud trains 5 epochs from zero on the pool twice: as it is (1.0.1), and with AlgArgs.Compress "int8" (1.0.2: int8 weights with a scale per class, restored by DequantizeLinear). Two edges classify the held-out digits with each through ONNX Runtime. Bytes: the ONNX model file in the package.' },
  { file: 'test/integration/learning-samples.test.ts', what: 'Hard-example mining: edge stage, stronger cloud stage; co-evolution (DC4, EC5, DC6, EC8)',
    setup: 'Edge stage: a classifier trained 5 epochs on 200 digits; results with Confidence < 0.6 are hard examples, kept in the edge\'s store. Cloud stage: a classifier trained 5 epochs on the 4,000-digit pool, fetching the hard set from the edge through a link cut once (resumed by range). Joint = the edge\'s answer where it was confident, the cloud\'s on the hard ones. Co-evolution: the edge mines hard examples from 200 pool digits it never trained on, the cloud stage labels them (LabelSet), the edge trains 5 epochs on those labels from its version; held-out accuracy of the edge model alone, before and after.' },
  { file: 'test/integration/learning-coevolution.test.ts', what: 'Co-evolution loop, automatic (EC8)',
    setup: 'The edge model (5 epochs on 200 digits) runs over 800 pool digits it never trained on with AlgArgs.CoEvolve {TeacherAlgID: the cloud model (5 epochs on the 4,000-digit pool), Every: 60} and HardExampleThreshold 0.6. Every 60 hard examples the scheduler itself submits a round: the cloud model labels the edge\'s hard set (fetched from its store), the edge\'s algorithm is trained 5 epochs on those labels on the cloud and published. Held-out accuracy of the edge model before the loop and with the newest version after it; no human label, no task submitted by hand after the edge\'s.' },
  { file: 'test/integration/learning-tiers.test.ts', what: 'One network across device, edge and cloud (DEC2)',
    setup: 'The cloud executor (DeviceType 2) trains digit_mlp (400 → 64 ReLU → 10, backpropagation in the sandbox) 8 epochs on the pool (LearningRate 0.3); the scheduler publishes it and its parts: layer 1 to the device package, layer 2 to the edge package. The device executor (DeviceType 0) runs its part over the held-out digits and files each digit\'s 64 features in its sample store; the edge executor (DeviceType 1) reads that set from the device and recognises it. Then 6 more epochs from that version, and the same again. "Whole network on the cloud" = the training task\'s ValidationAccuracy, computed on the cloud host.' },
  { file: 'test/integration/learning-incremental.test.ts', what: 'Incremental learning on an edge (DC5, DC7)',
    setup: 'The cloud trains 3 epochs on the pool without classes 7–9 (2,800 digits); an edge trains 3 more epochs from that version on its own 880 digits (mostly 7–9).' },
  { file: 'test/integration/learning-reward.test.ts', what: 'Reinforcement from a device\'s rewards improves the cloud model (DC6, DC7)',
    setup: 'The cloud trains 5 epochs on 200 digits (1.0.1); a device (DeviceType 0) runs that version over 1,000 pool digits it never trained on, keeping each sample with the class it chose (AlgArgs.FeedbackSet). The application posts only whether each was right (reward 1 or 0, no labels). The cloud fetches the device\'s set (RDS2) and trains 3 epochs from 1.0.1 on the rewards (AlgArgs.Objective "reward"); 1.0.2 is published. Comparison: an identical 1.0.1 under another AlgID trained 3 epochs on the same samples with their true labels.' },
];
const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim();
const out: Array<{ file: string; what: string; setup: string; passed: boolean; figures: string[]; seconds: number }> = [];
for (const t of tests) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['scripts/test.mjs', t.file], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  const text = `${r.stdout}\n${r.stderr}`;
  const figures = [...text.matchAll(/# FIGURE (.*)$/gm)].map((m) => m[1]!.trim());
  out.push({ ...t, passed: r.status === 0, figures: r.status === 0 ? figures : [], seconds: Math.round((Date.now() - t0) / 1000) });
  console.log(`${t.file}: ${r.status === 0 ? 'passed' : 'FAILED'} ${figures.join(' | ')}`);
}
const machine = `${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, Node ${process.version}`;
writeFileSync(path.join(root, 'bench', 'results', 'learning.json'), JSON.stringify({ commit, date: new Date().toISOString(), machine, results: out }, null, 2));
const md = [
  '# The learning loop on real data (bench/learning.ts)',
  '',
  `Commit ${commit}, ${new Date().toISOString().slice(0, 16)} UTC, ${machine}. Data: OpenCV's handwritten digits`,
  '(`digits.png`, Debian `opencv-doc`: 5,000 digits of 20×20, 500 per class); held-out = every fifth digit',
  '(1,000), training pool = the other 4,000. Model: the example `digit_classifier` (softmax regression over',
  'the 400 grey pixels, SGD in the WASM sandbox, inference through ONNX Runtime). Every figure comes from a',
  'test across real processes (a scheduler and executors on loopback) that passed in this run; accuracy is',
  'over the held-out digits, counted from the TaskResults the executors sent.',
  '',
  ...out.flatMap((r) => [`## ${r.what}`, '', r.setup, '', `\`${r.file}\` — ${r.passed ? 'passed' : 'FAILED (no figure quoted)'}, ${r.seconds} s`, '', ...r.figures.map((f) => `- ${f}`), '']),
].join('\n');
writeFileSync(path.join(root, 'bench', 'results', 'learning.md'), md);
