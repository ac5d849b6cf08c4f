// retinad plugin SDK for AssemblyScript (ABI 1, see ../include/retinad_plugin.h).
// A plugin exports rd_abi_version, rd_alloc and rd_process; this library implements the
// first two and the input/output plumbing, so a plugin writes only `process(input): string`.

export const ABI_VERSION: i32 = 1;
const MAGIC: u32 = 0x31494452;

@external("rd", "rd_log")
declare function host_log(ptr: usize, len: u32): void;

/** The ABI version this plugin was built for. */
export function abiVersion(): i32 {
  return ABI_VERSION;
}

/** Memory for the host to write the input into. */
export function alloc(size: u32): usize {
  return heap.alloc(<usize>size);
}

/** One call's input: the frame tensor, maybe the previous one, model outputs, AlgArgs. */
export class Input {
  width: u32 = 0;
  height: u32 = 0;
  ptsMs: f64 = 0;
  hasPrevious: bool = false;
  args: string = "{}";
  buffers: Array<Uint8Array> = [];

  /** The frame's input tensor. */
  get frame(): Uint8Array {
    return this.buffers[0];
  }

  /** The previous frame's tensor (only with input.previousFrame). */
  get previous(): Uint8Array | null {
    return this.hasPrevious && this.buffers.length > 1 ? this.buffers[1] : null;
  }

  /** A numeric AlgArgs member, or `fallback`. Flat objects only: {"Threshold": 25}. */
  argNumber(key: string, fallback: f64): f64 {
    const k = "\"" + key + "\"";
    let i = this.args.indexOf(k);
    if (i < 0) return fallback;
    i = this.args.indexOf(":", i + k.length);
    if (i < 0) return fallback;
    let j = i + 1;
    while (j < this.args.length && this.args.charCodeAt(j) == 32) j++;
    let end = j;
    while (end < this.args.length) {
      const c = this.args.charCodeAt(end);
      if ((c >= 48 && c <= 57) || c == 45 || c == 46 || c == 101 || c == 69 || c == 43) end++;
      else break;
    }
    if (end == j) return fallback;
    return parseFloat(this.args.substring(j, end));
  }
}

/** Decodes the host's input block. */
export function readInput(ptr: usize, len: u32): Input {
  const inp = new Input();
  let p = ptr;
  const end = ptr + <usize>len;
  if (len < 28 || load<u32>(p) != MAGIC) abort("bad input block");
  inp.width = load<u32>(p + 4);
  inp.height = load<u32>(p + 8);
  inp.hasPrevious = (load<u32>(p + 12) & 1) != 0;
  inp.ptsMs = load<f64>(p + 16);
  const argsLen = load<u32>(p + 24);
  p += 28;
  if (p + <usize>argsLen > end) abort("bad args length");
  inp.args = String.UTF8.decodeUnsafe(p, argsLen);
  p += argsLen;
  const n = load<u32>(p);
  p += 4;
  for (let i: u32 = 0; i < n; i++) {
    const l = load<u32>(p);
    p += 4;
    if (p + <usize>l > end) abort("bad buffer length");
    // A view over the host's bytes, no copy.
    const view = new Uint8Array(0);
    store<usize>(changetype<usize>(view), p, offsetof<Uint8Array>("buffer"));
    store<usize>(changetype<usize>(view), p, offsetof<Uint8Array>("dataStart"));
    store<i32>(changetype<usize>(view), <i32>l, offsetof<Uint8Array>("byteLength"));
    inp.buffers.push(view);
    p += l;
  }
  return inp;
}

/** Returns `json` to the host (packed pointer and length). */
export function output(json: string): i64 {
  const buf = String.UTF8.encode(json);
  return (<i64>changetype<usize>(buf) << 32) | <i64>buf.byteLength;
}

/** Writes a line to the executor's log (rate-limited by the host). */
export function log(msg: string): void {
  const b = String.UTF8.encode(msg);
  host_log(changetype<usize>(b), b.byteLength);
}

/** Returns raw bytes to the host (packed pointer and length): the training ABI's weights block. */
export function outputBytes(buf: ArrayBuffer): i64 {
  return (<i64>changetype<usize>(buf) << 32) | <i64>buf.byteLength;
}
