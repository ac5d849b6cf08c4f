/** SB7, M2: where the parts of a split file start and end, and a part ending at its edge. */
import t from 'tap';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { clip } from '../../helpers/media.ts';
import { endAt, resolveSlice, sliceArg } from '../../../src/runtime/media/slice.ts';
import type { FrameSource, SourceFrame } from '../../../src/runtime/media/frame-source.ts';

t.test('SB7: parts are consecutive, cut at sampling instants, the last open-ended; a bad Slice is no slice', async (t) => {
  const url = pathToFileURL(clip(path.join(t.testdir({}), 'ten.mp4'), { seconds: 10 })).href;
  t.strictSame(await resolveSlice(url, { index: 0, count: 2 }, 2), { startMs: 0, endMs: 5000 });
  t.strictSame(await resolveSlice(url, { index: 1, count: 2 }, 2), { startMs: 5000, endMs: Infinity });
  const three = await Promise.all([0, 1, 2].map((index) => resolveSlice(url, { index, count: 3 }, 2)));
  t.strictSame(three.map((r) => [r.startMs, r.endMs]), [[0, 3500], [3500, 6500], [6500, Infinity]], 'edges on the 500 ms grid of 2 fps, each part starting where the one before ends');
  await t.rejects(resolveSlice('rtsp://127.0.0.1:1/live', { index: 0, count: 2 }, 2), /Slice: the duration of .* is unknown/);
  t.strictSame(sliceArg({ Slice: { Index: 1, Count: 2 } }), { index: 1, count: 2 });
  for (const bad of [{}, { Slice: 'x' }, { Slice: { Index: 2, Count: 2 } }, { Slice: { Index: 0, Count: 1 } }, { Slice: { Index: -1, Count: 3 } }, { Slice: { Index: 0.5, Count: 2 } }]) t.equal(sliceArg(bad), undefined, JSON.stringify(bad));
});

t.test('SB7: a part ends before the frame sampled for its end instant (within half an interval) and closes its source', async (t) => {
  let closed = false;
  const frames = [0, 500, 4500, 4760, 5000].map((ptsMs, index) => ({ ptsMs, index, release: () => undefined }) as unknown as SourceFrame);
  const inner: FrameSource = { backend: 'native', next: async () => frames.shift() ?? null, close: () => { closed = true; }, stats: () => { throw new Error('unused'); } };
  const part = endAt(inner, 5000, 250);
  const seen: number[] = [];
  for (let f = await part.next(); f; f = await part.next()) seen.push(f.ptsMs);
  t.strictSame(seen, [0, 500, 4500], '4760 is within 250 ms of 5000: the next part\'s');
  t.ok(closed, 'the source is closed at the edge');
});
