/**
 * S3, SR1: an executor whose reported AvailableMemory, less what placement has charged to it
 * since (scheduler/reservations.ts), is below what the subtask needs is dropped.
 */
import type { Filter } from '../types.ts';

export const memory: Filter = {
  name: 'memory',
  check: (r, c) => {
    const avail = c.available?.ResourceInfo.CommonResource?.AvailableMemory;
    // Unreported memory is not held against an executor.
    if (r.memoryBytes === undefined || avail === undefined) return null;
    const held = c.reserved?.().memoryBytes ?? 0;
    if (avail - held >= r.memoryBytes) return null;
    return `AvailableMemory ${avail} bytes${held ? ` (${held} of it promised to subtasks placed since)` : ''}, subtask needs ${r.memoryBytes}`;
  },
};
