/**
 * SB2, batch deployment: a task deployed with Constraints.DeployOn "input-device" runs each input
 * on the executor its Inputs[i].DeviceID names, and nowhere else — not on a better-scored one,
 * not elsewhere after a failure (it waits for that executor).
 */
import type { Filter } from '../types.ts';

export const pinned: Filter = {
  name: 'pinned',
  applies: (r) => !!r.pinned,
  check: (r, c) => {
    if (!r.pinned) return null;
    if (r.nearDeviceId === undefined) return 'the input names no DeviceID to deploy on';
    return c.device.device_id === r.nearDeviceId ? null : `deployed on ${r.nearDeviceId} only`;
  },
};
