/** S3: an executor without a CommandURL cannot be sent a task_dispatch. */
import type { Filter } from '../types.ts';

export const commandUrl: Filter = { name: 'command-url', check: (_r, c) => (c.device.command_url ? null : 'no CommandURL') };
