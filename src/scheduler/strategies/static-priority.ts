/** Static priority (SB3): the highest table 17 Priority first; equal priorities in arrival order. */
import type { TaskOrderStrategy } from './types.ts';

export const staticPriority: TaskOrderStrategy = {
  name: 'priority',
  next: (waiting) => waiting.reduce((best, w) => (w.priority > best.priority || (w.priority === best.priority && w.queuedAt < best.queuedAt) ? w : best)),
};
