/**
 * B.3 step 4, assisted scheduling: a lower scheduler that hands part of a task to its upper one
 * names itself in Constraints.AvoidDevices — it already found no executor of its own that can
 * take that part, so placing it back there would only be refused again. Unlike `excluded` (a
 * retry's preference, dropped when nobody else is left), this is the task's own rule.
 */
import type { Filter } from '../types.ts';

export const avoided: Filter = { name: 'avoided', applies: (r) => !!r.avoid?.length, check: (r, c) => (r.avoid?.includes(c.device.device_id) ? 'the task asks to avoid it (Constraints.AvoidDevices)' : null) };
