/** SR2 headroom: more idle CPU first (AvailableCPU, 50 when unreported). */
import type { Scorer } from '../types.ts';

export const headroom: Scorer = { name: 'headroom', score: (_r, c) => c.availableCpu / 100 };
