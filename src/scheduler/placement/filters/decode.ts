/**
 * S3, SR1: decode capacity. Table 7 AvailDecodePerf counts 1080P@1FPS units; a subtask needs
 * inputs × TaskFrameRate of them. The stream's format is not known before it is opened, so the
 * best format the executor reports is compared. Unreported capacity is not held against it.
 */
import type { Filter } from '../types.ts';

export const decode: Filter = {
  name: 'decode',
  check: (r, c) => {
    const list = c.available?.ResourceInfo.VideoProcessResource;
    if (r.decodeUnits === undefined || !list?.length) return null;
    const perf = list.map((v) => v.AvailDecodePerf).filter((x): x is number => x !== undefined);
    if (!perf.length) return null;
    const best = Math.max(...perf);
    // Less what placement has charged to it since its report (scheduler/reservations.ts).
    const held = c.reserved?.().decodeUnits ?? 0;
    return best - held >= r.decodeUnits ? null : `AvailDecodePerf ${best} (1080P@1FPS units)${held ? `, ${held} of it promised to subtasks placed since` : ''}, subtask needs ${r.decodeUnits}`;
  },
};
