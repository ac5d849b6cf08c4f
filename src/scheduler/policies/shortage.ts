/**
 * S7 "runs short of resources": an executor whose own report says it can no longer hold a
 * subtask loses it to another executor. The rule is the one a report can decide alone: its
 * TotalMemory (table 4) below the MemoryBytes the task asked for (Constraints). An
 * AvailableResource report is not used — it already counts the subtask's own use, so a busy
 * executor and a short one look alike there — and an executor that runs out while running one
 * reports the subtask failed with ExceptionCode 20, which moves it too (retry rules, SB10).
 */
import type { TotalResource } from '../../protocol/index.ts';

const MB = 1024 * 1024;

/** Why `total` cannot hold a subtask needing `memoryBytes`, or null. TotalMemory is in MB (table 4, "单位MB"). */
export function shortOf(total: TotalResource | undefined, memoryBytes: number | undefined): string | null {
  const haveMb = total?.ResourceInfo.CommonResource?.TotalMemory;
  if (memoryBytes === undefined || haveMb === undefined || haveMb * MB >= memoryBytes) return null;
  return `executor ${total!.DeviceID} reports TotalMemory ${haveMb} MB, the subtask needs ${memoryBytes} bytes`;
}
