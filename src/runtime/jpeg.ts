/**
 * Splits a byte stream of concatenated JPEGs (ffmpeg's image2pipe/mjpeg output) into whole
 * images by walking the marker segments, and reads an image's size from its SOF header.
 */

/** Incremental splitter: push chunks, get complete JPEG files back. */
export class JpegStreamSplitter {
  private buf: Buffer = Buffer.alloc(0);

  /** Adds bytes; returns every image completed by them. */
  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Buffer[] = [];
    for (;;) {
      const end = findImageEnd(this.buf);
      if (end < 0) break;
      out.push(Buffer.from(this.buf.subarray(0, end)));
      this.buf = this.buf.subarray(end);
    }
    return out;
  }

  /** Bytes held that do not (yet) form a whole image. */
  get pending(): number {
    return this.buf.length;
  }
}

/** Returns the length of the first complete JPEG in `b`, or -1 when it is not complete. */
function findImageEnd(b: Buffer): number {
  if (b.length < 4) return -1;
  if (b[0] !== 0xff || b[1] !== 0xd8) throw new Error('JPEG stream out of sync: image does not start with SOI');
  let i = 2;
  // Header segments carry their length; after SOS the entropy-coded data runs to EOI,
  // where 0xFF is always followed by 0x00 (stuffing) or a restart marker.
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) throw new Error('JPEG stream out of sync: expected a marker');
    const marker = b[i + 1];
    if (marker === 0xff) { i++; continue; }
    if (marker === 0xd9) return i + 2;
    const len = b.readUInt16BE(i + 2);
    if (marker === 0xda) {
      let j = i + 2 + len;
      while (j + 1 < b.length) {
        if (b[j] === 0xff) {
          const n = b[j + 1]!; // j + 1 < b.length
          if (n === 0xd9) return j + 2;
          if (n !== 0x00 && !(n >= 0xd0 && n <= 0xd7) && n !== 0xff) {
            // Another segment after a scan (progressive JPEG): resume header walking.
            i = j;
            break;
          }
        }
        j++;
      }
      if (j + 1 >= b.length) return -1;
      continue;
    }
    i += 2 + len;
  }
  return -1;
}

/** Width and height from a JPEG's SOFn segment, or null when none is found. */
export function jpegSize(b: Uint8Array): { width: number; height: number } | null {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return null;
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return null;
    // i + 9 < b.length: every byte read below, up to b[i + 8], is in range.
    const m = b[i + 1]!;
    const len = (b[i + 2]! << 8) | b[i + 3]!;
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      return { height: (b[i + 5]! << 8) | b[i + 6]!, width: (b[i + 7]! << 8) | b[i + 8]! };
    }
    if (m === 0xda || m === 0xd9) return null;
    i += 2 + len;
  }
  return null;
}
