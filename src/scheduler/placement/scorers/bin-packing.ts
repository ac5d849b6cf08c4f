/**
 * SR2 bin-packing: fill busy executors before idle ones (more active subtasks, less idle CPU
 * first), so idle ones stay free for large tasks or can be powered down.
 */
import type { Scorer } from '../types.ts';

export const binPacking: Scorer = { name: 'bin-packing', score: (_r, c) => (c.active / (1 + c.active) + (1 - c.availableCpu / 100)) / 2 };
