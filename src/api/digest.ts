/**
 * HTTP Digest authentication (RFC 7616) for `POST /System/Register`, as GA/T 1400 devices do it.
 * SHA-256 is offered first; MD5 is still accepted for older clients. Nonces are stateless
 * (timestamp + HMAC) so a restarted scheduler needs no nonce table.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type DigestAlgorithm = 'SHA-256' | 'MD5';
/** How long a nonce we issued is accepted; an older one is stale. */
export const NONCE_TTL_MS = 5 * 60_000;

const hash = (alg: DigestAlgorithm, s: string) => createHash(alg === 'MD5' ? 'md5' : 'sha256').update(s).digest('hex');

/**
 * The `response` value of RFC 7616 §3.4.1 (qop=auth, or RFC 2069 form without qop); one
 * function for both sides, so the test vectors of the RFCs check what client and server compute.
 */
export function digestResponse(p: { algorithm: DigestAlgorithm; username: string; realm: string; password: string; method: string; uri: string; nonce: string; qop?: string; nc?: string; cnonce?: string }): string {
  const ha1 = hash(p.algorithm, `${p.username}:${p.realm}:${p.password}`);
  const ha2 = hash(p.algorithm, `${p.method}:${p.uri}`);
  return p.qop === 'auth' ? hash(p.algorithm, `${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:auth:${ha2}`) : hash(p.algorithm, `${ha1}:${p.nonce}:${ha2}`);
}

/** Parses `Digest a="b", c=d` into a map (quoted or bare values). */
export function parseDigestParams(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  const body = header.replace(/^\s*Digest\s+/i, '');
  const re = /([a-zA-Z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(body))) out[m[1].toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3];
  return out;
}

/** Server side: issues challenges and checks responses against one shared password. */
export class DigestVerifier {
  private readonly secret = randomBytes(32);
  constructor(private readonly realm: string, private readonly password: string) {}

  private nonce(now = Date.now()): string {
    const ts = now.toString(36);
    return `${ts}.${createHmac('sha256', this.secret).update(ts).digest('base64url').slice(0, 32)}`;
  }

  private nonceValid(nonce: string, now = Date.now()): boolean {
    const [ts, mac] = nonce.split('.');
    if (!ts || !mac) return false;
    const expect = createHmac('sha256', this.secret).update(ts).digest('base64url').slice(0, 32);
    if (expect.length !== mac.length || !timingSafeEqual(Buffer.from(expect), Buffer.from(mac))) return false;
    const age = now - parseInt(ts, 36);
    return age >= 0 && age <= NONCE_TTL_MS;
  }

  /** `WWW-Authenticate` values to send with a 401 (SHA-256 first, then MD5). */
  challenges(): string[] {
    const nonce = this.nonce();
    const opaque = createHash('sha256').update(this.realm).digest('hex').slice(0, 16);
    return (['SHA-256', 'MD5'] as const).map(
      (alg) => `Digest realm="${this.realm}", qop="auth", algorithm=${alg}, nonce="${nonce}", opaque="${opaque}"`,
    );
  }

  /** Checks an `Authorization: Digest …` header for `method`; returns the username when valid. */
  verify(header: string | undefined, method: string): string | null {
    if (!header || !/^\s*Digest\s/i.test(header)) return null;
    const p = parseDigestParams(header);
    const alg: DigestAlgorithm = (p.algorithm ?? 'MD5').toUpperCase() === 'SHA-256' ? 'SHA-256' : 'MD5';
    if (!p.username || !p.nonce || !p.uri || !p.response || p.realm !== this.realm) return null;
    if (!this.nonceValid(p.nonce)) return null;
    const expected = digestResponse({ algorithm: alg, username: p.username, realm: this.realm, password: this.password, method, uri: p.uri, nonce: p.nonce, qop: p.qop, nc: p.nc, cnonce: p.cnonce });
    const a = Buffer.from(expected);
    const b = Buffer.from(p.response.toLowerCase());
    return a.length === b.length && timingSafeEqual(a, b) ? p.username : null;
  }
}

/** Client side: answers the strongest challenge offered. */
export function digestAuthorization(
  wwwAuthenticate: string | string[],
  opts: { username: string; password: string; method: string; uri: string; /** fixed only by tests (RFC vectors) */ cnonce?: string },
): string {
  const offers = (Array.isArray(wwwAuthenticate) ? wwwAuthenticate : splitChallenges(wwwAuthenticate)).map(parseDigestParams);
  const pick = offers.find((o) => (o.algorithm ?? '').toUpperCase() === 'SHA-256') ?? offers[0];
  if (!pick?.nonce || !pick.realm) throw new Error('server sent no usable Digest challenge');
  const alg: DigestAlgorithm = (pick.algorithm ?? 'MD5').toUpperCase() === 'SHA-256' ? 'SHA-256' : 'MD5';
  const nc = '00000001';
  const cnonce = opts.cnonce ?? randomBytes(8).toString('hex');
  const response = digestResponse({ algorithm: alg, username: opts.username, realm: pick.realm, password: opts.password, method: opts.method, uri: opts.uri, nonce: pick.nonce, qop: 'auth', nc, cnonce });
  return `Digest username="${opts.username}", realm="${pick.realm}", nonce="${pick.nonce}", uri="${opts.uri}", ` +
    `algorithm=${alg}, qop=auth, nc=${nc}, cnonce="${cnonce}", response="${response}"` + (pick.opaque ? `, opaque="${pick.opaque}"` : '');
}

/** Splits a folded `WWW-Authenticate` header holding several Digest challenges. */
function splitChallenges(h: string): string[] {
  return h.split(/,\s*(?=Digest\s)/i);
}
