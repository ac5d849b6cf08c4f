/** `--upstream` (cascade, 5.2): the upper scheduler and what this scheduler registers there as. */
import type { DeviceType } from '../../protocol/index.ts';

export interface UpstreamConfig {
  url: string;
  /** DeviceType of this scheduler's level (1 edge, 2 cloud). */
  deviceType: DeviceType;
  longitude?: string;
  latitude?: string;
  /** The CommandURL registered upstream when it differs from the one executors use (NAT, `--upstream-advertise`). */
  commandUrl?: string;
  /** B.3: every TaskRequest submitted here is approved by the upper scheduler first (`--upstream-approval`). */
  approval?: boolean;
}
