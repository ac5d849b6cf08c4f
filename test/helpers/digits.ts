/**
 * OpenCV's handwritten digits (digits.png from Debian's opencv-doc: 5,000 digits of 20×20, 500
 * per class, in class blocks of five rows of 100) as sample sets, and the splits the learning
 * tests and bench use: a held-out set (every fifth digit) and per-edge shards whose class mix
 * differs. Everything here is data handling for tests; the runtime reads only "RDS1" files.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { encodeSamples, type SampleSet } from '../../src/plugins/train-blob.ts';
import type { RetinaClient } from '../../src/net/client.ts';
import type { TaskResultBody } from '../../src/protocol/index.ts';

export const DIGITS_PNG = '/usr/share/doc/opencv-doc/examples/data/digits.png';
export const haveDigits = (): boolean => existsSync(DIGITS_PNG);

/** All 5,000 digits, pixels scaled to 0..1, in the file's order. */
export async function loadDigits(): Promise<SampleSet> {
  const { data, info } = await sharp(DIGITS_PNG).greyscale().raw().toBuffer({ resolveWithObject: true });
  const n = 5000, dim = 400;
  const features = new Float32Array(n * dim), labels = new Uint8Array(n);
  for (let r = 0; r < 50; r++) for (let c = 0; c < 100; c++) {
    const i = r * 100 + c;
    labels[i] = Math.floor(r / 5);
    for (let y = 0; y < 20; y++) for (let x = 0; x < 20; x++) features[i * dim + y * 20 + x] = data[(r * 20 + y) * info.width + c * 20 + x]! / 255;
  }
  return { dim, classes: 10, features, labels };
}

/** The samples at `ids`, in that order. */
export function subset(s: SampleSet, ids: readonly number[]): SampleSet {
  const features = new Float32Array(ids.length * s.dim), labels = new Uint8Array(ids.length);
  ids.forEach((i, k) => { features.set(s.features.subarray(i * s.dim, (i + 1) * s.dim), k * s.dim); labels[k] = s.labels[i]!; });
  return { dim: s.dim, classes: s.classes, features, labels };
}

/** Held-out (every fifth digit) and the training pool (the rest), indices into the full set. */
export function split(s: SampleSet): { heldOut: number[]; pool: number[] } {
  const all = Array.from({ length: s.labels.length }, (_, i) => i);
  return { heldOut: all.filter((i) => i % 5 === 0), pool: all.filter((i) => i % 5 !== 0) };
}

/**
 * Skewed shards of the training pool, one per edge: edge e takes most of its samples from
 * its own classes (`own` of them, e.g. 0–3, 4–6, 7–9) and a small share (`rest`) of the others.
 */
export function skewedShards(s: SampleSet, pool: readonly number[], owners: number[][], rest = 0.1): number[][] {
  const shards: number[][] = owners.map(() => []);
  pool.forEach((i, k) => {
    const y = s.labels[i]!;
    const owner = owners.findIndex((cls) => cls.includes(y));
    // Deterministic: every 1/rest-th sample of a class goes to the next edge in turn.
    const every = Math.round(1 / rest);
    const e = k % every === 0 ? (owner + 1 + (k % (owners.length - 1 || 1))) % owners.length : owner;
    shards[e]!.push(i);
  });
  return shards;
}

/** Serves sample sets by name (`/name.rds`) over loopback HTTP. */
export async function serveSamples(sets: Record<string, SampleSet>): Promise<{ url(name: string): string; server: Server; close(): Promise<void> }> {
  const bytes = new Map(Object.entries(sets).map(([k, v]) => [`/${k}.rds`, encodeSamples(v)]));
  const server = createServer((req, res) => {
    const b = bytes.get(req.url ?? '');
    if (!b) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': b.length }).end(b);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { url: (name) => `http://127.0.0.1:${port}/${name}.rds`, server, close: () => new Promise((r) => server.close(() => r())) };
}

/** Every stored result of a task, all pages. */
export async function allResults(client: RetinaClient, schedulerUrl: string, taskId: string): Promise<TaskResultBody[]> {
  const out: TaskResultBody[] = [];
  let after = '0';
  for (;;) {
    const page = (await client.send('GET', `${schedulerUrl}/System/TaskResult/${taskId}?after=${after}&limit=500`)).body as { TaskResultList?: TaskResultBody[]; Next?: string };
    out.push(...(page.TaskResultList ?? []));
    if (!page.Next) return out;
    after = page.Next;
  }
}

/** Held-out accuracy per (DeviceID, AlgVersion) from classification results (ResultData.Class, Pts = sample index). */
export function accuracyBy(results: readonly TaskResultBody[], labels: Uint8Array): Map<string, { n: number; correct: number; accuracy: number }> {
  const m = new Map<string, { n: number; correct: number; accuracy: number }>();
  for (const r of results) for (const a of r.TaskResultData.AnalysisResult ?? []) {
    const d = a.ResultData as { Class?: number; Pts?: number } | undefined;
    if (typeof d?.Class !== 'number' || typeof d.Pts !== 'number') continue;
    const k = `${r.DeviceID} ${r.AlgVersion}`;
    const x = m.get(k) ?? { n: 0, correct: 0, accuracy: 0 };
    x.n++;
    if (labels[d.Pts] === d.Class) x.correct++;
    x.accuracy = x.correct / x.n;
    m.set(k, x);
  }
  return m;
}
