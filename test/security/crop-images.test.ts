/**
 * Crops travel between stages as PNG/JPEG (CropData) from another node: hostile bytes there must
 * end in a named error, never a crash, a hang or an allocation the header asked for. Generated
 * corruptions of real images, on FFmpeg's decoders where built and on sharp everywhere.
 */
import t from 'tap';
import fc from 'fast-check';
import zlib from 'node:zlib';
import { nativeCore } from '../../src/runtime/media/native.ts';
import { decodeImage, encodeImage, MAX_IMAGE_PIXELS } from '../../src/runtime/media/image-codec.ts';
import { smoothRandomYuv, packYuv } from '../helpers/preprocess-reference.ts';

const SEED = Number(process.env.RETINAD_FC_SEED ?? 20261129);
const core = nativeCore()!;
const vias = (core.Frame.decodeImage ? ['auto', 'sharp'] : ['sharp']) as Array<'auto' | 'sharp'>;

/** A PNG whose IHDR claims w×h (one tiny IDAT): what a decompression bomb's header looks like. */
function pngClaiming(w: number, h: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(zlib.crc32 ? zlib.crc32(td) : 0);
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13); ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(Buffer.alloc(16))), chunk('IEND', Buffer.alloc(0))]);
}

t.test('a header that asks for a huge picture is refused before decoding', async (t) => {
  for (const via of vias) {
    await t.rejects(decodeImage(pngClaiming(100_000, 100_000), via), new RegExp(`image: 100000x100000 is outside 1\\.\\.${MAX_IMAGE_PIXELS} pixels`), `${via}: PNG bomb`);
    await t.rejects(decodeImage(pngClaiming(0, 10), via), /is outside 1\.\./, `${via}: zero width`);
  }
  await t.rejects(decodeImage(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0])), /no IHDR header/);
  await t.rejects(decodeImage(Buffer.from([0xff, 0xd8, 0xff, 0xd9])), /no SOF header/);
});

t.test('generated corruptions of real crops: a frame of the stated size or a named error', async (t) => {
  const f = core.Frame.create(64, 48, 'yuv420p', packYuv(smoothRandomYuv(64, 48, 4)));
  const seeds = { png: await encodeImage(f, 'png', 0, undefined, 'sharp'), jpeg: await encodeImage(f, 'jpeg', 85, undefined, 'sharp') };
  const outcomes = { decoded: 0, refused: 0 };
  for (const via of vias) {
    await fc.assert(fc.asyncProperty(
      fc.constantFrom('png', 'jpeg'), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 12 }), fc.option(fc.nat()),
      async (kind, flips, cut) => {
        const img = Buffer.from(seeds[kind as 'png' | 'jpeg']);
        // Keep the signature: corruptions behind it reach the decoders.
        for (const [at, v] of flips) img[4 + (at % (img.length - 4))] = v;
        const bytes = cut === null ? img : img.subarray(0, 4 + (cut % (img.length - 4)));
        try {
          const fr = await decodeImage(bytes, via);
          if (fr.width < 1 || fr.height < 1 || fr.width * fr.height > MAX_IMAGE_PIXELS) throw new Error(`decoded to ${fr.width}x${fr.height}`);
          fr.release();
          outcomes.decoded++;
        } catch (err) {
          if (!/^image: /.test((err as Error).message)) throw err;
          outcomes.refused++;
        }
      }), { numRuns: 150, seed: SEED });
  }
  t.ok(outcomes.refused > 0 && outcomes.decoded + outcomes.refused === 150 * vias.length,
    `${outcomes.decoded} decoded, ${outcomes.refused} refused with "image: …" (${vias.join(' and ')}, seed ${SEED})`);
});
