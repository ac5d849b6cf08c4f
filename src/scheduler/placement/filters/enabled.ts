/** S3, SM1: a disabled executor is never chosen. */
import type { Filter } from '../types.ts';

export const enabled: Filter = { name: 'enabled', check: (_r, c) => (c.device.enabled ? null : 'disabled') };
