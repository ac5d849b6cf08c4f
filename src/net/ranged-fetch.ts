/**
 * A download that survives a flapping link (EC5): bytes come in ranges (`Range: bytes=n-`), a
 * cut connection resumes from the last byte received (`If-Range` on the ETag, so a file that
 * changed meanwhile starts over instead of being spliced), and the whole is checked against the
 * SHA-256 the server states (`X-Content-SHA256`) before anyone uses it.
 */
import { createHash } from 'node:crypto';
import { request } from 'undici';

export interface RangedFetchOptions {
  headers?: Record<string, string>;
  maxBytes: number;
  /** Attempts after a cut (default 5). */
  retries?: number;
  timeoutMs?: number;
  /** Called after each attempt that ended early: bytes so far. */
  onCut?(received: number): void;
}

/** Downloads `url` whole, resuming after cuts; rejects when the checksum or a limit fails. */
export async function rangedFetch(url: string, o: RangedFetchOptions): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let received = 0;
  let etag: string | undefined;
  let sha: string | undefined;
  let total: number | undefined;
  const timeout = o.timeoutMs ?? 60_000;
  for (let attempt = 0; ; attempt++) {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (received > 0) { headers.range = `bytes=${received}-`; if (etag) headers['if-range'] = etag; }
    try {
      const res = await request(url, { method: 'GET', headers, headersTimeout: timeout, bodyTimeout: timeout });
      if (res.statusCode === 200 && received > 0) { chunks.length = 0; received = 0; } // the server sent it whole (changed, or no ranges)
      else if (res.statusCode !== 200 && res.statusCode !== 206) { await res.body.dump(); throw new FetchRefused(`${url}: HTTP ${res.statusCode}`); }
      const h = (k: string) => { const v = res.headers[k]; return Array.isArray(v) ? v[0] : v; };
      etag = h('etag') ?? etag;
      sha = h('x-content-sha256') ?? sha;
      const range = /\/(\d+)$/.exec(h('content-range') ?? '');
      total = range ? Number(range[1]) : res.statusCode === 200 && h('content-length') ? Number(h('content-length')) : total;
      if (total !== undefined && total > o.maxBytes) { res.body.destroy(); throw new FetchRefused(`${url}: ${total} bytes, more than the ${o.maxBytes} allowed`); }
      for await (const c of res.body) {
        received += (c as Buffer).length;
        if (received > o.maxBytes) { res.body.destroy(); throw new FetchRefused(`${url}: more than ${o.maxBytes} bytes`); }
        chunks.push(c as Buffer);
      }
      if (total === undefined || received >= total) break;
      throw new Error('connection ended early');
    } catch (err) {
      if (err instanceof FetchRefused) throw err;
      if (attempt >= (o.retries ?? 5)) throw new Error(`${url}: gave up after ${attempt + 1} attempts at byte ${received}: ${(err as Error).message}`);
      o.onCut?.(received);
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
    }
  }
  const body = Buffer.concat(chunks);
  if (!sha) throw new FetchRefused(`${url}: the server stated no X-Content-SHA256; the data cannot be checked`);
  const got = createHash('sha256').update(body).digest('hex');
  if (got !== sha) throw new FetchRefused(`${url}: SHA-256 ${got} does not match the stated ${sha}`);
  return body;
}

/** A refusal that a retry cannot fix (HTTP error, limit, checksum). */
export class FetchRefused extends Error {}
