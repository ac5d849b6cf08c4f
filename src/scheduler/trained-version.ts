/** The version a trained model is published as: the next free patch after the newest one (DC3, DEC2). */
import { compareVersions } from '../protocol/index.ts';
import type { AlgorithmRepository } from './repository.ts';

/** The next free patch version after the newest published one (1.0.3 → 1.0.4). */
export function nextVersion(repo: AlgorithmRepository, algId: number): string {
  const newest = repo.newest({ algId })?.AlgVersion ?? '1.0.0';
  const parts = newest.split(/[.+-]/).map((x) => Number.parseInt(x, 10));
  const [a = 1, b = 0, c = 0] = parts.map((x) => (Number.isFinite(x) ? x : 0));
  let v = `${a}.${b}.${c + 1}`;
  while (repo.has(algId, v) || compareVersions(v, newest) <= 0) v = `${a}.${b}.${Number.parseInt(v.split('.')[2]!, 10) + 1}`;
  return v;
}
