/**
 * S8, table 31: the ExceptionCode of a subtask nobody took says the real cause, not always 20.
 * Read from the placement filters' rejections and the executors' refusals (their EB2 messages):
 * - 60 data source error: an executor refused the input (StreamURL scheme, the source itself);
 * - 20 short of resources: executors offer the algorithm but lack memory or decode capacity, refused
 *   for want of capacity, or could not be reached (none available to run it);
 * - 10 environment unsupported: no executor offers the algorithm (or DeviceType, area) at all, or
 *   every one refused it for its algorithm, arguments or environment.
 */
import { ExceptionCode } from '../../protocol/index.ts';
import type { Rejection } from '../placement/types.ts';

const SOURCE = /StreamURL|data source|source /i;
const CAPACITY = /AvailableMemory|AvailDecodePerf|resource|capacity|busy|concurren|queue is full|ECONNREFUSED|ECONNRESET|timed? ?out|unreachable|socket|fetch failed|went offline/i;

export function placementFailureCode(rejected: readonly Rejection[], refusals: readonly string[]): number {
  if (refusals.some((m) => SOURCE.test(m))) return ExceptionCode.DataSourceError;
  if (refusals.some((m) => CAPACITY.test(m)) || rejected.some((r) => CAPACITY.test(r.why))) return ExceptionCode.ShortOfResources;
  return ExceptionCode.EnvUnsupported;
}
