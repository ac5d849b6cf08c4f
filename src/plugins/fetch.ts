/**
 * Downloads an algorithm package named by AlgFileURL: http(s) or file://, size-limited while it
 * streams, with a timeout. The caller decides whether a bearer token goes along (only to the
 * scheduler's repository) and has checked where a file may come from.
 */
import { readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';

export const MAX_PACKAGE_BYTES = 512 << 20;

export async function fetchPackage(url: string, token: string | undefined, opts: { maxBytes?: number; timeoutMs?: number } = {}): Promise<Buffer> {
  const max = opts.maxBytes ?? MAX_PACKAGE_BYTES;
  if (url.startsWith('file://')) {
    const p = fileURLToPath(url);
    const s = await stat(p);
    // A FIFO or device reports size 0 and reads forever: regular files only.
    if (!s.isFile()) throw new Error('is not a regular file');
    if (s.size > max) throw new Error(`package is ${s.size} bytes; the limit is ${max}`);
    return readFile(p);
  }
  if (!/^https?:\/\//.test(url)) throw new Error(`"${url.slice(0, 64)}" is not an http(s) or file URL`);
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  const timeout = opts.timeoutMs ?? 60_000;
  const res = await request(url, { method: 'GET', headers, headersTimeout: timeout, bodyTimeout: timeout });
  if (res.statusCode !== 200) {
    await res.body.dump();
    throw new Error(`download failed: HTTP ${res.statusCode}`);
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body) {
    n += (c as Buffer).length;
    if (n > max) {
      res.body.destroy();
      throw new Error(`package exceeds ${max} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
