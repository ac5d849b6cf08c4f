/**
 * Strategies (M4, M5): a named set of weighted scorers, chosen per task with
 * Constraints.Strategy. `balanced`, the default, is the scheduler's original weighting.
 */
import { load } from './scorers/load.ts';
import { headroom } from './scorers/headroom.ts';
import { locality } from './scorers/locality.ts';
import { binPacking } from './scorers/bin-packing.ts';
import { roundRobin } from './scorers/round-robin.ts';
import type { Scorer } from './types.ts';

export type Weighted = ReadonlyArray<{ weight: number; scorer: Scorer }>;

export const STRATEGIES: Readonly<Record<string, Weighted>> = {
  // Load first, then idle CPU; the data's own device outweighs both.
  balanced: [{ weight: 10, scorer: load }, { weight: 3, scorer: headroom }, { weight: 20, scorer: locality }],
  // Fill executors up before starting on the next.
  'bin-packing': [{ weight: 10, scorer: binPacking }, { weight: 20, scorer: locality }],
  // Each executor in turn.
  'round-robin': [{ weight: 10, scorer: roundRobin }, { weight: 20, scorer: locality }],
};

export const DEFAULT_STRATEGY = 'balanced';
export const STRATEGY_NAMES = Object.keys(STRATEGIES);

/** The scorers of strategy `name` (the default for an unknown or absent name; intake refuses unknown ones). */
export function strategy(name: string | undefined): Weighted {
  return (name !== undefined ? STRATEGIES[name] : undefined) ?? STRATEGIES[DEFAULT_STRATEGY]!;
}
