/** A learning cluster: nodes that trust the examples' key and the scheduler's trained-models key; task submission. */
import path from 'node:path';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { createPublicKey } from 'node:crypto';
import { startCluster, type Cluster } from './cluster.ts';
import { generateKeys, keyId, TrustStore } from '../../src/plugins/keys.ts';
import { buildPackage, verifyPackage } from '../../src/plugins/package-file.ts';
import { example, publish } from './examples.ts';
import { encodeSamples, type SampleSet } from '../../src/plugins/train-blob.ts';

const root = path.resolve(import.meta.dirname, '..', '..');

/**
 * A cluster whose nodes trust the examples' key and the scheduler's trained-models key (made here,
 * before it starts). `deviceType(i)` gives executor edge-i's DeviceType; by default edge-1 is the
 * cloud (2), where training runs, and the others are edges (1).
 */
export async function learningCluster(dir: string, n: number, deviceType: (i: number) => number = (i) => (i === 1 ? 2 : 1)): Promise<{ cluster: Cluster; trainedKeyId: string }> {
  const keys = path.join(dir, 'keys');
  mkdirSync(keys, { recursive: true });
  mkdirSync(path.join(dir, 'scheduler'), { recursive: true });
  const k = generateKeys();
  writeFileSync(path.join(dir, 'scheduler', 'trained-models.key'), k.privatePem, { mode: 0o600 });
  writeFileSync(path.join(dir, 'scheduler', 'trained-models.pub'), k.publicPem);
  writeFileSync(path.join(keys, 'trained-models.pub'), k.publicPem);
  writeFileSync(path.join(keys, 'examples.pub'), readFileSync(path.join(root, 'plugins-sdk', 'examples', 'build', 'keys', 'publisher.pub')));
  const trust = ['--trusted-keys', keys];
  const cluster = await startCluster(dir, n, { keepaliveSec: 5, schedulerArgs: trust, executorArgs: trust, executorArgsFor: (i) => (deviceType(i) === 1 ? [] : ['--device-type', String(deviceType(i))]) });
  return { cluster, trainedKeyId: keyId(createPublicKey(k.publicPem)) };
}

/** Submits a task over Inputs on given executors; its TaskID. */
export async function submit(c: Cluster, taskType: number, inputs: Array<{ DeviceID: string; StreamURL: string }>, algArgs: Record<string, unknown> = {}, algId = 2201): Promise<string> {
  const r = await c.client.send('POST', `${c.scheduler.url}/System/TaskRequest/`, {
    TaskName: `learning ${taskType}`, TaskType: taskType, Constraints: { DeployOn: 'input-device' },
    InitiationInfo: { DeviceID: 'learning-test', CustomInfo: { AlgID: algId, TaskFrameRate: 25, AlgArgs: algArgs, Inputs: inputs } },
  });
  const id = (r.body as { TaskID?: string }).TaskID;
  if (!id) throw new Error(`task refused: ${JSON.stringify(r.body)}`);
  return id;
}


/** The published versions of AlgID `algId` in the scheduler's repository, in its order. */
export async function publishedVersions(c: Cluster, algId = 2201): Promise<string[]> {
  const list = ((await c.client.send('GET', `${c.scheduler.url}/System/AlgorithmRepository`)).body as { AlgorithmList: Array<{ AlgID: number; AlgVersion: string }> }).AlgorithmList;
  return list.filter((x) => x.AlgID === algId).map((x) => x.AlgVersion);
}

/**
 * Each edge's own disk for sample sets (a directory per edge under a short temp path: a
 * StreamURL is at most 256 bytes). `put` writes a set there as RDS1 and returns its file URL.
 */
export function edgeDisks(): { put(edge: string, name: string, s: SampleSet): string; remove(): void } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'ed-'));
  return {
    put(edge, name, s) {
      mkdirSync(path.join(root, edge), { recursive: true });
      const f = path.join(root, edge, name);
      writeFileSync(f, encodeSamples(s));
      return pathToFileURL(f).href;
    },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** Publishes the digit classifier example as another algorithm (`algId`, `algType`), signed with the examples' key. */
export function publishVariant(c: Cluster, algId: number, algType: string): void {
  const v = verifyPackage(readFileSync(example('digit_classifier-1.0.0')), new TrustStore(), { devMode: true });
  const { files: _f, ...m } = v.manifest;
  const key = readFileSync(path.join(root, 'plugins-sdk', 'examples', 'build', 'keys', 'publisher.key'), 'utf8');
  const file = path.join(c.dir, `${algType}.rpk`);
  writeFileSync(file, buildPackage({ ...m, AlgID: algId, AlgType: algType }, v.files, key));
  if (publish(c, file).status !== 0) throw new Error(`AlgID ${algId} (${algType}) not published`);
}
