/**
 * Dynamic batching (issue 4 §4): frames of several streams running the same model are stacked
 * into one inference, and each frame still gets exactly its own result — the same result it gets
 * alone.
 */
import t from 'tap';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { PluginPool } from '../../src/plugins/pool.ts';
import { PluginRegistry } from '../../src/plugins/registry.ts';
import { TrustStore } from '../../src/plugins/keys.ts';
import { Batcher } from '../../src/plugins/batcher.ts';
import { openFrameSource } from '../../src/runtime/media/frame-source.ts';
import { ff } from '../helpers/media.ts';
import { fontFile } from '../../src/demo/clip.ts';
import { defined } from '../helpers/defined.ts';

// Signs are drawn with the font of an npm package (as the demo's are): no system fonts needed.
const FONT = fontFile();

const root = path.resolve(import.meta.dirname, '..', '..');

t.test('four streams share inferences; each frame gets its own answer', async (t) => {
  t.equal(spawnSync(process.execPath, [path.join(root, 'scripts', 'build-plugins.mjs')]).status, 0);
  t.testdir({});
  const trust = new TrustStore();
  trust.add(readFileSync(path.join(root, 'plugins-sdk', 'examples', 'build', 'keys', 'publisher.pub'), 'utf8'));
  const pool = new PluginPool({ workers: 1, intraOpThreads: 2 });
  t.teardown(() => pool.close());
  const reg = new PluginRegistry(t.testdir({}), trust, pool);
  await reg.install(readFileSync(path.join(root, 'plugins-sdk', 'examples', 'build', 'text_recognition-1.0.0.rpk')));
  const p = reg.get(2101)!;
  // Four frames with a line of text at a different height in each.
  const video = path.join(t.testdirName, 'moving-text.mp4');
  ff(['-f', 'lavfi', '-i', 'color=c=white:s=640x360:r=1', '-t', '4', '-vf', `drawtext=fontfile=${FONT}:text='BATCH 4':fontsize=48:fontcolor=black:x=100:y=30+t*80`,
    '-c:v', 'libx264', '-pix_fmt', 'yuv420p', video]);
  const frames: Float32Array[] = [];
  const src = openFrameSource({ url: video, fps: 1 });
  for (let f = await src.next(); f && frames.length < 4; f = await src.next()) {
    const b = new Float32Array(3 * 640 * 640);
    await f.preprocess({ ...p.manifest.input, mean: p.manifest.input.mean as [number, number, number], std: p.manifest.input.std as [number, number, number] }, b);
    f.release();
    frames.push(b);
  }
  src.close();
  const make = (k: number) => defined(frames[k], `frame ${k}`).slice().buffer;
  const alone = [];
  for (let k = 0; k < 4; k++) alone.push((await pool.call(p, { input: make(k), ptsMs: k + 1, args: {} })).output);
  const batcher = new Batcher(pool, { maxBatch: 4, maxDelayMs: 50 });
  const together = await Promise.all([0, 1, 2, 3].map((k) => batcher.call(p, { input: make(k), ptsMs: k + 1, args: {} })));
  t.ok(together.every((r) => r.batch === 4), `one inference for four frames (batch sizes ${together.map((r) => r.batch).join(',')})`);
  t.strictSame(together.map((r) => r.output), alone, 'each frame gets the same boxes as it gets alone, in its own order');
  const boxes = alone.map((o) => (o as { Results: Array<{ ResultData: { Boxes: Array<{ y: number }> } }> }).Results[0]?.ResultData.Boxes ?? []);
  // Letterbox puts the 640×360 frame at y 140..500 of the tensor; the text moves 80 px a frame.
  t.ok(boxes.every((b, k) => b.length === 1 && Math.abs((b[0]?.y ?? NaN) - (140 + 30 + k * 80)) < 25), `and those boxes are where each frame has its text: ${JSON.stringify(boxes.map((b) => b.map((x) => x.y)))}`);
  const single = await batcher.call(p, { input: make(0), ptsMs: 9, args: {} });
  t.equal(single.batch, 1, 'a lone frame goes after maxDelayMs, unbatched');
});
