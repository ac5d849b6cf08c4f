/**
 * The pipe backend's YUV4MPEG2 reader: any split of the byte stream gives the same pictures;
 * malformed streams (generated) end in a Y4mError that says what is wrong, never another
 * exception, an unbounded buffer or a hang.
 */
import t from 'tap';
import fc from 'fast-check';
import { Y4mSplitter, Y4mError } from '../../../src/runtime/media/y4m.ts';

const SEED = Number(process.env.RETINAD_FC_SEED ?? 20261129);

function stream(w: number, h: number, frames: Buffer[], extra = ''): Buffer {
  const head = Buffer.from(`YUV4MPEG2 W${w} H${h} F25:1 Ip A1:1 C420jpeg${extra}\n`, 'latin1');
  return Buffer.concat([head, ...frames.flatMap((f) => [Buffer.from('FRAME\n'), f])]);
}

t.test('any chunking yields the same pictures, header read once', async (t) => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 0, max: 4 }), fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 30 }), fc.nat(),
    (w, h, n, cuts, seed) => {
      const size = w * h + 2 * Math.ceil(w / 2) * Math.ceil(h / 2);
      const frames = Array.from({ length: n }, (_, k) => Buffer.from(Array.from({ length: size }, (_, i) => (i * 31 + k * 7 + seed) & 255)));
      const bytes = stream(w, h, frames);
      const sp = new Y4mSplitter();
      const got: Buffer[] = [];
      let at = 0, c = 0;
      while (at < bytes.length) { const len = cuts[c++ % cuts.length]!; /* cuts has minLength 1 */ got.push(...sp.push(bytes.subarray(at, at + len))); at += len; }
      if (sp.header?.width !== w || sp.header?.height !== h || sp.header.fps !== 25) throw new Error(`header ${JSON.stringify(sp.header)}`);
      if (got.length !== n || got.some((g, k) => !g.equals(frames[k]!))) throw new Error(`${got.length} of ${n} pictures intact`);
    }), { numRuns: 200, seed: SEED });
  t.pass(`200 generated streams split at random points (seed ${SEED})`);
});

t.test('XCOLORRANGE is read', async (t) => {
  const sp = new Y4mSplitter();
  sp.push(stream(2, 2, [], ' XCOLORRANGE=FULL'));
  t.equal(sp.header?.range, 'full');
});

t.test('malformed streams are named errors (generated)', async (t) => {
  t.throws(() => new Y4mSplitter().push(Buffer.from('RIFF....\n')), { name: 'Error', message: 'not a YUV4MPEG2 stream' });
  t.throws(() => new Y4mSplitter().push(Buffer.from('YUV4MPEG2 W0 H10\n')), /size 0x10 is outside 1\.\.16384/);
  t.throws(() => new Y4mSplitter().push(Buffer.from('YUV4MPEG2 W99999 H10\n')), /size 99999x10 is outside/);
  t.throws(() => new Y4mSplitter().push(Buffer.from('YUV4MPEG2 W4 H4 C444\n')), /chroma 444 is not 4:2:0/);
  t.throws(() => new Y4mSplitter().push(Buffer.concat([stream(2, 2, []), Buffer.from('FRAMX\n')])), /expected FRAME, got "FRAMX"/);
  t.throws(() => new Y4mSplitter().push(Buffer.alloc(5000, 0x41)), /text line longer than 1 KiB/, 'no newline: bounded, not buffered forever');
  let kinds = 0;
  fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 3000 }), fc.boolean(), (junk, withHeader) => {
    const sp = new Y4mSplitter();
    try {
      const bytes = withHeader ? Buffer.concat([stream(4, 4, []), Buffer.from(junk)]) : Buffer.from(junk);
      for (const f of sp.push(bytes)) if (f.length !== 24) throw new Error(`picture of ${f.length} bytes`);
    } catch (err) {
      if (!(err instanceof Y4mError)) throw err;
      kinds++;
    }
  }), { numRuns: 300, seed: SEED });
  t.ok(kinds > 0, `${kinds} of 300 random streams refused with a Y4mError, the rest consumed without one`);
});
