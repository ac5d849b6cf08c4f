/** S3, SR1: an executor whose reported AvailableMemory is below what the subtask needs is dropped. */
import type { Filter } from '../types.ts';

export const memory: Filter = {
  name: 'memory',
  check: (r, c) => {
    const avail = c.available?.ResourceInfo.CommonResource?.AvailableMemory;
    // Unreported memory is not held against an executor.
    if (r.memoryBytes === undefined || avail === undefined || avail >= r.memoryBytes) return null;
    return `AvailableMemory ${avail} bytes, subtask needs ${r.memoryBytes}`;
  },
};
