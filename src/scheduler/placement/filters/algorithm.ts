/**
 * S2: the algorithm an executor would run — the highest valid version matching the request's
 * AlgID and/or AlgType (case-insensitive) — or, when no executor has it, the repository's
 * published version, which an executor downloads (AlgFileURL).
 */
import { AlgStatus, compareVersions, type AlgInfo } from '../../../protocol/index.ts';
import type { PlacementRequest } from '../types.ts';

/** Picks the algorithm an executor would run for the request: highest version that matches. */
export function matchAlgorithm(req: PlacementRequest, algs: readonly AlgInfo[]): AlgInfo | undefined {
  let best: AlgInfo | undefined;
  const type = req.algType?.toLowerCase();
  for (const a of algs) {
    if (a.AlgStatus === AlgStatus.Invalid) continue;
    if (req.algId !== undefined && a.AlgID !== req.algId) continue;
    if (type !== undefined && a.AlgType.toLowerCase() !== type) continue;
    if (!best || compareVersions(a.AlgVersion, best.AlgVersion) > 0) best = a;
  }
  return best;
}
