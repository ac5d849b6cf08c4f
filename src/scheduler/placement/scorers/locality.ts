/** M4 data locality: the executor the data belongs to (the camera's own box) first. */
import type { Scorer } from '../types.ts';

export const locality: Scorer = { name: 'locality', score: (r, c) => (r.nearDeviceId && r.nearDeviceId === c.device.device_id ? 1 : 0) };
