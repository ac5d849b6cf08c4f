/**
 * Which URLs a request may make a node open (T/AI 116.6 leaves this to the implementation; an
 * executor that opens whatever a TaskRequest names reads its administrator's files and probes its
 * internal network for anyone who can submit a task). Sources and callbacks are confined:
 * - `file://` only under a configured media directory, regular files only (symlinks resolved
 *   first, so a link cannot lead out);
 * - network URLs never to this node itself: loopback, unspecified and the addresses of its own
 *   interfaces — unless `allowPrivate` (single-box setups, tests) — and never link-local (cloud
 *   metadata at 169.254.169.254), whatever the flags. Private ranges (192.168/16, 10/8 …) stay
 *   allowed: that is where cameras live.
 * Names are resolved the way ffmpeg and the HTTP client will resolve them (getaddrinfo), so
 * `0x7f.1`, `2130706433` and `[::ffff:127.0.0.1]` are what they are. A missing file and a refused
 * one get the same answer, so the reply does not reveal which files exist.
 */
import { lookup } from 'node:dns/promises';
import { open, realpath, stat, type FileHandle } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface UrlPolicy {
  /** Directories `file://` sources may be read from (none: no local files). */
  mediaDirs: readonly string[];
  /** Let URLs point at this node's own and loopback addresses (tests, single-box setups); link-local never. */
  allowPrivate: boolean;
}

/** What the URL is for: a video source (file and streaming schemes) or a callback (HTTP only). */
export type UrlUse = 'source' | 'callback';

/** A URL the policy refuses; the message names the field and the rule. */
export class UrlRefused extends Error {
  constructor(readonly field: string, readonly rule: string) {
    super(`${field}: ${rule}`);
    this.name = 'UrlRefused';
  }
}

const SOURCE_SCHEMES = new Set(['file:', 'rtsp:', 'rtsps:', 'rtmp:', 'rtmps:', 'http:', 'https:']);
const CALLBACK_SCHEMES = new Set(['http:', 'https:']);
const MAX_URL = 4096;

/** Checks `url` for `use`; resolves with the local path for file URLs, else the URL. Rejects with UrlRefused. */
export async function checkUrl(field: string, url: string, use: UrlUse, policy: UrlPolicy): Promise<string> {
  if (typeof url !== 'string' || !url) throw new UrlRefused(field, 'is required');
  if (url.length > MAX_URL) throw new UrlRefused(field, `is longer than ${MAX_URL} characters`);
  if (/[\0-\x1f\x7f]/.test(url)) throw new UrlRefused(field, 'must not contain control characters');
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UrlRefused(field, 'is not an absolute URL');
  }
  const schemes = use === 'source' ? SOURCE_SCHEMES : CALLBACK_SCHEMES;
  if (!schemes.has(u.protocol)) throw new UrlRefused(field, `scheme ${u.protocol.slice(0, 16)} is not allowed (${[...schemes].map((s) => s.slice(0, -1)).join(', ')})`);
  if (u.protocol === 'file:') return checkFile(field, u, policy);
  if (u.username || u.password) {
    // Credentials inside a camera URL are normal (rtsp://user:pass@cam); in a callback they would be sent to whoever is named.
    if (use === 'callback') throw new UrlRefused(field, 'must not carry credentials');
  }
  await checkHost(field, u, policy);
  return url;
}

const NOT_ALLOWED = 'is not an allowed source (a regular file under a --media-dir)';

async function checkFile(field: string, u: URL, policy: UrlPolicy): Promise<string> {
  if (u.host && u.host !== 'localhost') throw new UrlRefused(field, NOT_ALLOWED);
  let file: string;
  try {
    file = fileURLToPath(u);
  } catch {
    throw new UrlRefused(field, NOT_ALLOWED);
  }
  // Links are resolved first, so none leads out. A file that does not exist yet inside a media
  // dir passes (opening it later is a data-source error, ExceptionCode 60); outside, missing and
  // present files get the same refusal, so the answer does not reveal what exists.
  let real: string;
  let exists = true;
  try {
    real = await realpath(file);
  } catch {
    exists = false;
    try {
      real = path.join(await realpath(path.dirname(file)), path.basename(file));
    } catch {
      throw new UrlRefused(field, NOT_ALLOWED);
    }
  }
  const dirs = await Promise.all(policy.mediaDirs.map((d) => realpath(d).catch(() => null)));
  const inside = dirs.some((d) => d !== null && real.startsWith(d.endsWith(path.sep) ? d : d + path.sep));
  if (!inside) throw new UrlRefused(field, NOT_ALLOWED);
  if (exists) {
    const st = await stat(real).catch(() => null);
    if (!st?.isFile()) throw new UrlRefused(field, NOT_ALLOWED);
    if (await isPlaylist(real)) throw new UrlRefused(field, 'is a playlist (HLS, DASH or ffconcat): its entries could name files outside the --media-dir; give the video itself');
  }
  return real;
}

/**
 * True when the file starts like a playlist FFmpeg would follow (the demuxer is chosen by
 * content, not by name): HLS, ffconcat, DASH. Their entries are opened by FFmpeg, which knows
 * nothing of --media-dir.
 */
async function isPlaylist(file: string): Promise<boolean> {
  let fh: FileHandle | null = null;
  try {
    fh = await open(file, 'r');
    const buf = Buffer.alloc(256);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const head = buf.subarray(0, bytesRead).toString('latin1').replace(/^\uFEFF|^\xEF\xBB\xBF/, '').trimStart();
    return head.startsWith('#EXTM3U') || head.startsWith('ffconcat') || /^<\?xml[\s\S]*<MPD\b|^<MPD\b/.test(head);
  } catch {
    return false;
  } finally {
    await fh?.close();
  }
}

async function checkHost(field: string, u: URL, policy: UrlPolicy): Promise<void> {
  await resolveAllowed(field, u.hostname, policy);
}

/**
 * Resolves `hostname` (a URL's, brackets allowed) and returns the address to connect to, when
 * every address it has is allowed; throws UrlRefused otherwise. Whoever connects to the address
 * returned (the source proxy does) is not fooled by a name that resolves differently a moment
 * later (DNS rebinding).
 */
export async function resolveAllowed(field: string, hostname: string, policy: UrlPolicy): Promise<string> {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (!host) throw new UrlRefused(field, 'names no host');
  let addrs: Array<{ address: string }>;
  try {
    addrs = await lookup(host, { all: true, verbatim: true });
  } catch {
    throw new UrlRefused(field, `host ${host.slice(0, 64)} does not resolve`);
  }
  const own = ownAddresses();
  for (const { address } of addrs) {
    const why = forbiddenAddress(address, own);
    if (why && policy.allowPrivate && why !== 'link-local') continue;
    if (why === 'link-local') throw new UrlRefused(field, `host ${host.slice(0, 64)} is link-local; not allowed (cloud metadata lives there)`);
    if (why) throw new UrlRefused(field, `host ${host.slice(0, 64)} is ${why}; not allowed without --allow-private-urls`);
  }
  const [first] = addrs;
  if (!first) throw new UrlRefused(field, `host ${host.slice(0, 64)} does not resolve`);
  return first.address;
}

/** The addresses of this machine's interfaces. */
function ownAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) out.add(normalise(a.address));
  return out;
}

/** Lower case, no zone, and IPv4-mapped IPv6 (either spelling) as the IPv4 address it carries. */
function normalise(a: string): string {
  const s = a.toLowerCase().replace(/%.*$/, '');
  const dotted = /^(?:0{0,4}:){0,5}:?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(s)?.[1];
  if (dotted !== undefined) return dotted;
  const [, hiHex, loHex] = /^(?:0{0,4}:){0,5}:?ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(s) ?? [];
  if (hiHex !== undefined && loHex !== undefined) {
    const hi = parseInt(hiHex, 16), lo = parseInt(loHex, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return s;
}

/** Why an address is refused ('loopback', …), or null when it may be used. */
export function forbiddenAddress(address: string, own: ReadonlySet<string> = ownAddresses()): string | null {
  const a = normalise(address);
  if (net.isIPv4(a)) {
    const [p, q] = a.split('.').map(Number);
    if (p === 127) return 'loopback';
    if (p === 0) return 'an unspecified address';
    if (p === 169 && q === 254) return 'link-local';
  } else if (net.isIPv6(a)) {
    if (a === '::1') return 'loopback';
    if (a === '::') return 'an unspecified address';
    if (/^fe[89ab]/.test(a)) return 'link-local';
  }
  if (own.has(a)) return "this node's own address";
  return null;
}
