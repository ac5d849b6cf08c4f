/**
 * JPEG and PNG for frames and crops, on every build: FFmpeg's encoders and decoders when the
 * addon has them, else sharp (libvips) — fed RGB that our own native conversion makes, so a crop
 * is the same pixels either way and only the compressor differs.
 */
import { MediaError } from './media-error.ts';
import { nativeCore, type NativeFrame } from './native.ts';
import { checkPreprocessSpec } from './preprocess-spec.ts';
import { jpegSize } from '../jpeg.ts';

export interface CropRect { x: number; y: number; width: number; height: number }

/** Largest picture a still image may decode to (a decompression bomb is refused before decoding). */
export const MAX_IMAGE_PIXELS = 8192 * 8192;

type Sharp = import('sharp').SharpConstructor;
let sharpModule: Promise<Sharp> | undefined;
// Loaded on first use: an FFmpeg build never needs it.
const loadSharp = (): Promise<Sharp> => (sharpModule ??= import('sharp').then((m) => m.default));

/** The frame (or a crop of it) as packed RGB24, converted by the native core. */
export async function frameRgb(f: NativeFrame, crop?: CropRect): Promise<{ data: Buffer; width: number; height: number }> {
  const width = crop?.width ?? f.width, height = crop?.height ?? f.height;
  const spec = checkPreprocessSpec({ width, height, resize: 'stretch', layout: 'nhwc', dtype: 'uint8', channels: 'rgb', scale: 1, pad: 0, crop });
  const data = Buffer.allocUnsafe(width * height * 3);
  await f.preprocess(spec, data);
  return { data, width, height };
}

/** Encodes the frame or a crop as JPEG (quality 1–100) or PNG; `via: 'sharp'` skips FFmpeg (tests compare both). */
export async function encodeImage(f: NativeFrame, format: 'jpeg' | 'png', quality = 90, crop?: CropRect, via: 'auto' | 'sharp' = 'auto'): Promise<Buffer> {
  if (f.encode && via === 'auto') return f.encode(format, quality, crop);
  const { data, width, height } = await frameRgb(f, crop);
  const img = (await loadSharp())(data, { raw: { width, height, channels: 3 } });
  return format === 'png' ? img.png({ compressionLevel: 6 }).toBuffer() : img.jpeg({ quality: Math.max(1, Math.min(100, Math.round(quality))) }).toBuffer();
}

/** Decodes a JPEG or PNG held in memory into a frame. Rejects with MediaError naming the problem. */
export async function decodeImage(data: Buffer, via: 'auto' | 'sharp' = 'auto'): Promise<NativeFrame> {
  const core = nativeCore();
  if (!core) throw new MediaError('env', 'image: the native core is not loaded');
  const png = data.length >= 8 && data[0] === 0x89 && data[1] === 0x50 && data[2] === 0x4e && data[3] === 0x47;
  const jpeg = data.length >= 3 && data[0] === 0xff && data[1] === 0xd8;
  if (!png && !jpeg) throw new MediaError('source', 'image: not a JPEG or PNG');
  // The header's size is checked before any decoder allocates for it (a crop is input from a peer).
  const size = png ? (data.length >= 24 ? { width: data.readUInt32BE(16), height: data.readUInt32BE(20) } : null) : jpegSize(data);
  if (!size) throw new MediaError('source', `image: no ${png ? 'IHDR' : 'SOF'} header with the picture size`);
  if (size.width < 1 || size.height < 1 || size.width * size.height > MAX_IMAGE_PIXELS) {
    throw new MediaError('source', `image: ${size.width}x${size.height} is outside 1..${MAX_IMAGE_PIXELS} pixels`);
  }
  if (core.Frame.decodeImage && via === 'auto') return core.Frame.decodeImage(data);
  const sharp = await loadSharp();
  try {
    const { data: rgb, info } = await sharp(data, { limitInputPixels: MAX_IMAGE_PIXELS, failOn: 'error' })
      .removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`${info.channels} channels after conversion`);
    return core.Frame.create(info.width, info.height, 'rgb24', rgb, true);
  } catch (err) {
    throw new MediaError('source', `image: ${(err as Error).message}`);
  }
}
