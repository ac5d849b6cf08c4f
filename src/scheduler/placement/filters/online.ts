/** S3, SM2: an offline executor is never chosen. */
import type { Filter } from '../types.ts';

export const online: Filter = { name: 'online', check: (_r, c) => (c.device.online ? null : 'offline') };
