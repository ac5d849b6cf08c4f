/** The JPEG stream splitter: arbitrary chunking of real ffmpeg MJPEG output yields the same whole images. */
import t from 'tap';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { JpegStreamSplitter, jpegSize } from '../../src/runtime/jpeg.ts';
import { ffmpegPath } from '../../src/runtime/ffmpeg-binary.ts';
import { FC_SEED } from '../helpers/seed.ts';
import { defined } from '../helpers/defined.ts';

const stream = spawnSync(ffmpegPath(), ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=5', '-t', '2', '-vf', 'scale=321:241', '-pix_fmt', 'yuvj444p', '-c:v', 'mjpeg', '-f', 'image2pipe', 'pipe:1'], { maxBuffer: 64 << 20 }).stdout;

t.test('splits real MJPEG output into whole images under any chunking', async (t) => {
  const whole = new JpegStreamSplitter().push(stream);
  t.equal(whole.length, 10, '2 s at 5 fps');
  t.strictSame(jpegSize(defined(whole[0], 'a first image')), { width: 321, height: 241 }, 'odd sizes read from SOF');
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 40 }), (cuts) => {
    const sp = new JpegStreamSplitter();
    const out: Buffer[] = [];
    let off = 0;
    let i = 0;
    while (off < stream.length) {
      const n = cuts[i++ % cuts.length]!; // cuts has minLength 1
      out.push(...sp.push(stream.subarray(off, off + n)));
      off += n;
    }
    return out.length === whole.length && out.every((b, k) => b.equals(whole[k]!)) && sp.pending === 0;
  }), { numRuns: 50, seed: FC_SEED });
  t.pass(`50 random chunkings gave identical images (seed ${FC_SEED})`);
});

t.test('a stream that is not JPEG is an error, not a hang', async (t) => {
  t.throws(() => new JpegStreamSplitter().push(Buffer.from('not a jpeg at all')), /out of sync/);
  t.equal(jpegSize(Buffer.from([1, 2, 3])), null);
});
