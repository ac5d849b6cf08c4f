/**
 * Publisher keys (ed25519): a key's id is the first 16 hex digits of the SHA-256 of its raw
 * public key; executors trust the public keys in their trusted-keys directory.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';

/** 16 hex digits naming a public key. */
export function keyId(pub: KeyObject): string {
  const raw = pub.export({ format: 'der', type: 'spki' });
  return createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

/** A new publisher key pair as PEM strings. */
export function generateKeys(): { publicPem: string; privatePem: string; keyId: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    keyId: keyId(publicKey),
  };
}

/** Signs `data` with a PEM private key; returns the key id and the base64 signature. */
export function signBytes(data: Buffer, privatePem: string): { keyId: string; signature: string } {
  const priv = createPrivateKey(privatePem);
  const pub = createPublicKey(priv);
  return { keyId: keyId(pub), signature: sign(null, data, priv).toString('base64') };
}

/** Public keys an executor trusts, by key id. */
export class TrustStore {
  private readonly keys = new Map<string, KeyObject>();

  /** Loads every `*.pub` / `*.pem` public key in `dir` (absent dir = no keys). */
  static fromDir(dir: string | undefined): TrustStore {
    const t = new TrustStore();
    if (dir && existsSync(dir)) {
      for (const f of readdirSync(dir)) if (/\.(pub|pem)$/.test(f)) t.add(readFileSync(path.join(dir, f), 'utf8'));
    }
    return t;
  }

  add(publicPem: string): string {
    const k = createPublicKey(publicPem);
    if (k.asymmetricKeyType !== 'ed25519') throw new Error('trusted keys must be ed25519 public keys');
    const id = keyId(k);
    this.keys.set(id, k);
    return id;
  }

  /** True when `signature` (base64) over `data` is valid for the trusted key `id`. */
  verify(id: string, data: Buffer, signature: string): 'ok' | 'unknown-key' | 'bad-signature' {
    const k = this.keys.get(id);
    if (!k) return 'unknown-key';
    let sig: Buffer;
    try {
      sig = Buffer.from(signature, 'base64');
    } catch {
      return 'bad-signature';
    }
    return verify(null, data, k, sig) ? 'ok' : 'bad-signature';
  }

  get size(): number {
    return this.keys.size;
  }
}
