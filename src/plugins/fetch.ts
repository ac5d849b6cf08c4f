/** Downloads an algorithm package named by AlgFileURL: http(s) (with the node's token) or file://, size-limited, with a timeout. */
import { readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { RetinaClient } from '../net/client.ts';
import { request } from 'undici';

export const MAX_PACKAGE_BYTES = 512 << 20;

export async function fetchPackage(url: string, client: RetinaClient | null, opts: { maxBytes?: number; timeoutMs?: number } = {}): Promise<Buffer> {
  const max = opts.maxBytes ?? MAX_PACKAGE_BYTES;
  if (url.startsWith('file://')) {
    const p = fileURLToPath(url);
    const s = await stat(p);
    if (s.size > max) throw new Error(`package is ${s.size} bytes; the limit is ${max}`);
    return readFile(p);
  }
  if (!/^https?:\/\//.test(url)) throw new Error(`"${url.slice(0, 64)}" is not an http(s) or file URL`);
  const headers: Record<string, string> = {};
  const token = client?.token;
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
