/** M4 load balancing: fewer active subtasks first (the score falls with every one). */
import type { Scorer } from '../types.ts';

export const load: Scorer = { name: 'load', score: (_r, c) => 1 / (1 + c.active) };
