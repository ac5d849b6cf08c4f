/** The executor's instance ID: with CommandIdx it keeps our commands unique across restarts. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import path from 'node:path';

/** A random ID made once per data directory: with CommandIdx it keeps our commands unique across restarts. */
export function loadInstanceId(dir: string): string {
  const f = path.join(dir, 'instance-id');
  if (existsSync(f)) return readFileSync(f, 'utf8').trim();
  const id = randomUUID().slice(0, 8);
  writeFileSync(f, id);
  return id;
}
