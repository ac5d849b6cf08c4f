/**
 * Round robin (M3): initiators take turns — the waiting task of the initiator served least
 * recently goes next (its oldest task), so one initiator's batch cannot hold the others back.
 */
import type { TaskOrderStrategy } from './types.ts';

export function roundRobin(): TaskOrderStrategy {
  const lastServed = new Map<string, number>();
  let turn = 0;
  return {
    name: 'round-robin',
    next: (waiting) => {
      const key = (o: string | null) => o ?? '';
      const pick = waiting.reduce((best, w) => {
        const a = lastServed.get(key(w.owner)) ?? -1, b = lastServed.get(key(best.owner)) ?? -1;
        return a < b || (a === b && w.queuedAt < best.queuedAt) ? w : best;
      });
      lastServed.set(key(pick.owner), turn++);
      return pick;
    },
  };
}
