/**
 * S3, SR1: decode capacity. Table 7 AvailDecodePerf counts 1080P@1FPS units; a subtask needs
 * inputs × TaskFrameRate of them. The stream's format is not known before it is opened, so the
 * best format the executor reports is compared. Unreported capacity is not held against it.
 */
import type { Filter } from '../types.ts';

export const decode: Filter = {
  name: 'decode',
  applies: (r) => r.decodeUnits !== undefined,
  check: (r, c) => {
    const list = c.available?.ResourceInfo.VideoProcessResource;
    if (r.decodeUnits === undefined || !list?.length) return null;
    // A loop, not map/filter/spread: this runs for every executor a placement looks at.
    let best = -Infinity;
    for (const v of list) if (v.AvailDecodePerf !== undefined && v.AvailDecodePerf > best) best = v.AvailDecodePerf;
    if (best === -Infinity) return null;
    // Less what placement has charged to it since its report (scheduler/reservations.ts).
    const held = c.reserved?.(c.device.device_id).decodeUnits ?? 0;
    return best - held >= r.decodeUnits ? null : `AvailDecodePerf ${best} (1080P@1FPS units)${held ? `, ${held} of it promised to subtasks placed since` : ''}, subtask needs ${r.decodeUnits}`;
  },
};
