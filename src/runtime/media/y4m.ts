/**
 * Splits ffmpeg's yuv4mpegpipe output (a text header, then `FRAME` lines each followed by one
 * planar 4:2:0 picture) into pictures. The pipe backend reads raw frames this way, so the native
 * core preprocesses them exactly as it does frames from its own decoder.
 */

export interface Y4mHeader {
  width: number;
  height: number;
  /** Frame rate as the stream states it (0 when absent). */
  fps: number;
  /** `full` or `limited` when the stream says (XCOLORRANGE), else undefined. */
  range?: 'full' | 'limited';
}

/** Error for a stream that is not 4:2:0 YUV4MPEG2. */
export class Y4mError extends Error {}

const MAX_LINE = 1024;
const MAX_SIDE = 16384;

/** Incremental splitter: push stdout chunks, get whole 4:2:0 pictures back (copied once). */
export class Y4mSplitter {
  header: Y4mHeader | null = null;
  private line: Buffer[] = [];
  private lineLen = 0;
  private frame: Buffer | null = null;
  private filled = 0;
  private frameBytes = 0;

  /** Adds bytes; returns every picture completed by them. Throws Y4mError on a malformed stream. */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.frame) {
        const n = Math.min(chunk.length - i, this.frameBytes - this.filled);
        chunk.copy(this.frame, this.filled, i, i + n);
        this.filled += n;
        i += n;
        if (this.filled === this.frameBytes) { out.push(this.frame); this.frame = null; }
        continue;
      }
      // A text line: the stream header or a FRAME line.
      const nl = chunk.indexOf(0x0a, i);
      const end = nl < 0 ? chunk.length : nl;
      this.line.push(chunk.subarray(i, end));
      this.lineLen += end - i;
      if (this.lineLen > MAX_LINE) throw new Y4mError('YUV4MPEG2 stream out of sync: a text line longer than 1 KiB');
      i = end;
      if (nl < 0) break;
      i++;
      const text = Buffer.concat(this.line).toString('latin1');
      this.line = [];
      this.lineLen = 0;
      if (!this.header) this.header = parseHeader(text, (b) => (this.frameBytes = b));
      else if (text === 'FRAME' || text.startsWith('FRAME ')) { this.frame = Buffer.allocUnsafe(this.frameBytes); this.filled = 0; }
      else throw new Y4mError(`YUV4MPEG2 stream out of sync: expected FRAME, got "${text.slice(0, 20)}"`);
    }
    return out;
  }
}

function parseHeader(text: string, setBytes: (n: number) => void): Y4mHeader {
  const [magic, ...params] = text.split(' ');
  if (magic !== 'YUV4MPEG2') throw new Y4mError('not a YUV4MPEG2 stream');
  let width = 0, height = 0, fps = 0, chroma = '420jpeg';
  let range: Y4mHeader['range'];
  for (const p of params) {
    const v = p.slice(1);
    if (p[0] === 'W') width = Number(v);
    else if (p[0] === 'H') height = Number(v);
    else if (p[0] === 'F') { const [a = 0, b] = v.split(':').map(Number); fps = b ? a / b : 0; }
    else if (p[0] === 'C') chroma = v;
    else if (p === 'XCOLORRANGE=FULL') range = 'full';
    else if (p === 'XCOLORRANGE=LIMITED') range = 'limited';
  }
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > MAX_SIDE || height > MAX_SIDE) {
    throw new Y4mError(`YUV4MPEG2 header: size ${width}x${height} is outside 1..${MAX_SIDE}`);
  }
  if (!chroma.startsWith('420')) throw new Y4mError(`YUV4MPEG2 header: chroma ${chroma} is not 4:2:0`);
  const cw = (width + 1) >> 1, ch = (height + 1) >> 1;
  setBytes(width * height + 2 * cw * ch);
  return { width, height, fps: Number.isFinite(fps) ? fps : 0, range };
}
