/** S1, M1: a topology stage runs on executors of the DeviceType it names. */
import type { Filter } from '../types.ts';

export const deviceType: Filter = {
  name: 'device-type',
  applies: (r) => r.deviceType !== undefined,
  check: (r, c) => (r.deviceType !== undefined && c.device.device_type !== r.deviceType ? `DeviceType ${c.device.device_type}, stage wants ${r.deviceType}` : null),
};
