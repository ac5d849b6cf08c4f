/** S3, SM2: a task that names a bounding box runs only on executors registered inside it. */
import type { Filter } from '../types.ts';

export const area: Filter = {
  name: 'area',
  applies: (r) => !!r.area,
  check: (r, c) => {
    const a = r.area;
    if (!a) return null;
    const lon = c.device.longitude === null ? NaN : Number(c.device.longitude);
    const lat = c.device.latitude === null ? NaN : Number(c.device.latitude);
    if (Number.isNaN(lon) || Number.isNaN(lat)) return 'no Longitude/Latitude registered, task names an area';
    if (lon < a.lonMin || lon > a.lonMax || lat < a.latMin || lat > a.latMax) return `at ${c.device.longitude},${c.device.latitude}, outside the task's area`;
    return null;
  },
};
