/**
 * The filters of tables 2 and 5, for a scheduler's answer: ProductType (equal), Chip (contained
 * in the device's chip name, as executors judge it), DriverVersion (equal), the
 * Longitude/Latitude box (the location the device registered with), and ExtendCond. The text
 * leaves ExtendCond's meaning open; here each of its members must equal the member of the same
 * name in the device's TotalResource ExtendInfo. A device whose location is unknown is outside
 * any box; a filter on a field the device did not report excludes it.
 */
import type { DeviceRow } from '../store.ts';
import type { TotalResource } from '../../protocol/index.ts';

export interface ResourceFilters {
  ProductType?: string;
  Chip?: string;
  DriverVersion?: string;
  LongitudeMin?: string;
  LongitudeMax?: string;
  LatitudeMin?: string;
  LatitudeMax?: string;
  ExtendCond?: Record<string, unknown>;
}

function within(v: string | null | undefined, min?: string, max?: string): boolean {
  if (min === undefined && max === undefined) return true;
  const n = v === null || v === undefined ? Number.NaN : Number(v);
  if (Number.isNaN(n)) return false;
  return (min === undefined || n >= Number(min)) && (max === undefined || n <= Number(max));
}

/** Whether a device (its TotalResource and registered row, or this scheduler itself) passes the filters. */
export function matchesFilters(f: ResourceFilters, total: TotalResource | undefined, row: DeviceRow | undefined, self: boolean): boolean {
  const cr = total?.ResourceInfo.ComputeResource;
  if (f.ProductType !== undefined && f.ProductType !== total?.ProductType) return false;
  if (f.Chip !== undefined && !(cr?.Chip ?? '').includes(f.Chip)) return false;
  if (f.DriverVersion !== undefined && f.DriverVersion !== cr?.DriverVersion) return false;
  // This scheduler's own location is not registered with itself: a box leaves its aggregate out.
  const lon = self ? undefined : row?.longitude;
  const lat = self ? undefined : row?.latitude;
  if (!within(lon, f.LongitudeMin, f.LongitudeMax) || !within(lat, f.LatitudeMin, f.LatitudeMax)) return false;
  if (f.ExtendCond) {
    const ext = (total?.ResourceInfo.ExtendInfo ?? {}) as Record<string, unknown>;
    for (const [k, v] of Object.entries(f.ExtendCond)) if (JSON.stringify(ext[k]) !== JSON.stringify(v)) return false;
  }
  return true;
}
