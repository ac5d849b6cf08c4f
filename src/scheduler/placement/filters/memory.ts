/**
 * S3, SR1: an executor whose reported AvailableMemory, less what placement has charged to it
 * since (scheduler/reservations.ts), is below what the subtask needs is dropped.
 */
import { MEMORY_MB_BYTES } from '../../../protocol/index.ts';
import type { Filter } from '../types.ts';

const mb = (bytes: number): number => Math.ceil(bytes / MEMORY_MB_BYTES);

export const memory: Filter = {
  name: 'memory',
  applies: (r) => r.memoryBytes !== undefined,
  check: (r, c) => {
    // Table 7 reports MB; Constraints.MemoryBytes and the charges are bytes.
    const avail = c.available?.ResourceInfo.CommonResource?.AvailableMemory;
    // Unreported memory is not held against an executor.
    if (r.memoryBytes === undefined || avail === undefined) return null;
    const held = c.reserved?.(c.device.device_id).memoryBytes ?? 0;
    if (avail * MEMORY_MB_BYTES - held >= r.memoryBytes) return null;
    return `AvailableMemory ${avail} MB${held ? ` (${mb(held)} MB of it promised to subtasks placed since)` : ''}, subtask needs ${mb(r.memoryBytes)} MB`;
  },
};
