/** Small helpers of the scheduler's own: its persistent secret, and URL origin comparison. */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

/** 32 random bytes kept in `file` (mode 600), created on first use. */
export function loadSecret(file: string): Buffer {
  if (existsSync(file)) {
    const b = readFileSync(file);
    if (b.length === 32) return b;
  }
  mkdirSync(path.dirname(file), { recursive: true });
  const b = randomBytes(32);
  writeFileSync(file, b, { mode: 0o600 });
  return b;
}

/** True when both URLs have the same scheme, host and port (false when either does not parse). */
export function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}
