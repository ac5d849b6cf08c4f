/** M5 round robin: the executor that was given a subtask longest ago (or never) first. */
import type { Scorer } from '../types.ts';

export const roundRobin: Scorer = {
  name: 'round-robin',
  needsLastPlaced: true,
  score: (_r, c, ctx) => {
    const last = c.lastPlaced ?? -1;
    if (last < 0) return 1;
    return 1 - 1 / (1 + Math.max(0, ctx.seq - last));
  },
};
