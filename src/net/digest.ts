/**
 * HTTP Digest authentication (RFC 7616) for `POST /System/Register`, as GA/T 1400 devices do it.
 * Hardened: SHA-256 only (MD5 and RFC 2069's qop-less form are refused), `qop=auth` required,
 * each nonce answers one request and lives 60 s (a captured Authorization header cannot be
 * replayed, e.g. with another CommandURL in the body), and the digest's `uri` must be the
 * request's. A nonce that was valid once but is used up or expired is answered `stale=true`, so a
 * client that knows the password simply retries with the new one.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const NONCE_TTL_MS = 60_000;
/** Outstanding challenges kept; the oldest go first (a flood of 401s cannot grow memory). */
const MAX_NONCES = 10_000;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Parses `Digest a="b", c=d` into a map (quoted or bare values). */
export function parseDigestParams(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  const body = header.replace(/^\s*Digest\s+/i, '');
  const re = /([a-zA-Z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(body))) {
    // Group 1 always matches; exactly one of 2 (quoted) and 3 (bare) does.
    const [, key = '', quoted, bare = ''] = m;
    out[key.toLowerCase()] = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : bare;
  }
  return out;
}

/** The `response` of RFC 7616 §3.4.1 with qop=auth and SHA-256. */
export function digestResponse(p: { username: string; realm: string; password: string; method: string; uri: string; nonce: string; nc: string; cnonce: string }): string {
  const ha1 = sha256(`${p.username}:${p.realm}:${p.password}`);
  const ha2 = sha256(`${p.method}:${p.uri}`);
  return sha256(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:auth:${ha2}`);
}

/** Why a Digest answer was not accepted: no/other scheme, a malformed or wrong one, or a spent nonce. */
export type DigestFailure = 'missing' | 'invalid' | 'stale';

/** Server side: issues challenges and checks answers against one shared password. */
export class DigestVerifier {
  private readonly nonces = new Map<string, number>(); // nonce → issued at
  private readonly opaque = randomBytes(8).toString('hex');

  constructor(private readonly realm: string, private readonly password: string, private readonly now: () => number = Date.now) {}

  /** `WWW-Authenticate` values to send with a 401 (one SHA-256 challenge, a fresh nonce). */
  challenges(stale = false): string[] {
    const t = this.now();
    for (const [n, at] of this.nonces) {
      if (t - at <= NONCE_TTL_MS && this.nonces.size < MAX_NONCES) break;
      this.nonces.delete(n);
    }
    const nonce = randomBytes(24).toString('base64url');
    this.nonces.set(nonce, t);
    return [`Digest realm="${this.realm}", qop="auth", algorithm=SHA-256, nonce="${nonce}", opaque="${this.opaque}"${stale ? ', stale=true' : ''}`];
  }

  /** Checks an `Authorization: Digest …` header for `method` and `uri`; the username, or why not. A good answer spends its nonce. */
  check(header: string | undefined, method: string, uri: string): { user: string } | { fail: DigestFailure } {
    if (!header || !/^\s*Digest\s/i.test(header)) return { fail: 'missing' };
    const p = parseDigestParams(header);
    if ((p.algorithm ?? '').toUpperCase() !== 'SHA-256' || p.qop !== 'auth') return { fail: 'invalid' };
    if (!p.username || !p.nonce || !p.response || !p.cnonce || !p.nc || !/^[0-9a-f]{8}$/i.test(p.nc) || p.realm !== this.realm || p.uri !== uri) return { fail: 'invalid' };
    const expected = Buffer.from(digestResponse({ username: p.username, realm: this.realm, password: this.password, method, uri: p.uri, nonce: p.nonce, nc: p.nc, cnonce: p.cnonce }));
    const got = Buffer.from(p.response.toLowerCase());
    if (expected.length !== got.length || !timingSafeEqual(expected, got)) return { fail: 'invalid' };
    const issued = this.nonces.get(p.nonce);
    if (issued === undefined || this.now() - issued > NONCE_TTL_MS) return { fail: 'stale' };
    this.nonces.delete(p.nonce);
    return { user: p.username };
  }

  /** The username of a valid answer, else null (see check()). */
  verify(header: string | undefined, method: string, uri: string): string | null {
    const r = this.check(header, method, uri);
    return 'user' in r ? r.user : null;
  }
}

/** Client side: answers the server's SHA-256 challenge (RFC 7616, qop=auth). */
export function digestAuthorization(
  wwwAuthenticate: string | string[],
  opts: { username: string; password: string; method: string; uri: string },
): string {
  const offers = (Array.isArray(wwwAuthenticate) ? wwwAuthenticate : splitChallenges(wwwAuthenticate)).map(parseDigestParams);
  const pick = offers.find((o) => (o.algorithm ?? '').toUpperCase() === 'SHA-256' && /\bauth\b/.test(o.qop ?? ''));
  if (!pick?.nonce || !pick.realm) throw new Error('server sent no SHA-256 Digest challenge with qop=auth');
  const nc = '00000001';
  const cnonce = randomBytes(8).toString('hex');
  const response = digestResponse({ username: opts.username, realm: pick.realm, password: opts.password, method: opts.method, uri: opts.uri, nonce: pick.nonce, nc, cnonce });
  return `Digest username="${opts.username}", realm="${pick.realm}", nonce="${pick.nonce}", uri="${opts.uri}", ` +
    `algorithm=SHA-256, qop=auth, nc=${nc}, cnonce="${cnonce}", response="${response}"` + (pick.opaque ? `, opaque="${pick.opaque}"` : '');
}

/** Splits a folded `WWW-Authenticate` header holding several Digest challenges. */
function splitChallenges(h: string): string[] {
  return h.split(/,\s*(?=Digest\s)/i);
}
