/** S7, SB10: the executor a subtask just failed on is not chosen again (while others can take it). */
import type { Filter } from '../types.ts';

export const excluded: Filter = { name: 'excluded', applies: (r) => !!r.exclude?.size, check: (r, c) => (r.exclude?.has(c.device.device_id) ? 'excluded' : null) };
