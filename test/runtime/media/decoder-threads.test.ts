/**
 * EB1: decoder threads shared out among the streams an executor decodes (decoder-options.ts
 * decoderThreads): a stream alone keeps FFmpeg's automatic count, later ones get the cores
 * divided, at least one; the choice reaches both backends and changes no frame they give.
 */
import t from 'tap';
import fc from 'fast-check';
import path from 'node:path';
import { decoderThreads } from '../../../src/runtime/media/decoder-options.ts';
import { openFrameSource, type FrameSource } from '../../../src/runtime/media/frame-source.ts';
import { samplerArgs } from '../../../src/runtime/frame-sampler.ts';
import { nativeDecoding } from '../../../src/runtime/media/native.ts';
import { clip } from '../../helpers/media.ts';
import { FC_SEED } from '../../helpers/seed.ts';

t.test('EB1: the cores are shared out among the open streams, a lone stream left automatic', async (t) => {
  t.equal(decoderThreads(2, 0), 0, 'alone: automatic');
  t.equal(decoderThreads(2, 1), 1);
  t.equal(decoderThreads(2, 7), 1, 'never below one');
  t.equal(decoderThreads(16, 3), 4);
  fc.assert(fc.property(fc.integer({ min: 1, max: 256 }), fc.integer({ min: 1, max: 1000 }), (cores, open) => {
    const n = decoderThreads(cores, open);
    return Number.isInteger(n) && n >= 1 && (n === 1 || n * (open + 1) <= cores);
  }), { seed: FC_SEED });
});

t.test('EB1: the ffmpeg binary is given the decoder threads before its input, and nothing when automatic', async (t) => {
  const a = samplerArgs({ url: 'file:///x.mp4', fps: 5, threads: 2 });
  t.ok(a.indexOf('-threads') >= 0 && a.indexOf('-threads') < a.indexOf('-i'), '-threads N comes before -i (a decoder option)');
  t.equal(a[a.indexOf('-threads') + 1], '2');
  t.notOk(samplerArgs({ url: 'file:///x.mp4', fps: 5 }).includes('-threads'));
  t.notOk(samplerArgs({ url: 'file:///x.mp4', fps: 5, threads: 0 }).includes('-threads'));
});

t.test('EB1: one decoder thread or automatic, the same frames at the same times', async (t) => {
  const file = clip(path.join(t.testdir({}), 'c.mp4'), { size: '640x360', seconds: 3, codec: ['-c:v', 'libx264', '-preset', 'veryfast', '-bf', '3', '-pix_fmt', 'yuv420p'] });
  const backends = (nativeDecoding() ? ['native', 'pipe'] : ['pipe']) as Array<'native' | 'pipe'>;
  const drain = async (src: FrameSource) => {
    const out: string[] = [];
    try {
      for (let f = await src.next(); f; f = await src.next()) { out.push(`${f.ptsMs}:${f.width}x${f.height}`); f.release(); }
    } finally {
      src.close();
    }
    return out;
  };
  for (const b of backends) {
    const auto = await drain(openFrameSource({ url: file, fps: 5 }, b));
    const one = await drain(openFrameSource({ url: file, fps: 5, threads: 1 }, b));
    t.ok(auto.length >= 14, `${b}: 3 s sampled at 5 fps (${auto.length} frames)`);
    t.strictSame(one, auto, `${b}: one thread gives the frames the automatic count gives`);
  }
});
