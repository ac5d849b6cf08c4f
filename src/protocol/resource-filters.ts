/**
 * The filters of tables 2 and 5, as every level applies them to itself or the devices it
 * answers for (an executor, a scheduler): ProductType (equal), Chip (contained
 * in the device's chip name, as executors judge it), DriverVersion (equal), the
 * Longitude/Latitude box (the location the device registered with), and ExtendCond. The text
 * leaves ExtendCond's meaning open; here each of its members must equal the member of the same
 * name in the device's TotalResource ExtendInfo. A device whose location is unknown is outside
 * any box; a filter on a field the device did not report excludes it.
 */
import type { TotalResource } from './resource.ts';

/** Where a device registered itself (table 4 has no location: it is the Register's). */
export interface DeviceLocation { longitude?: string | null; latitude?: string | null }

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

/** Whether the query names any filter that needs the device's TotalResource (not only its location). */
export function needsTotal(f: ResourceFilters): boolean {
  return f.ProductType !== undefined || f.Chip !== undefined || f.DriverVersion !== undefined || f.ExtendCond !== undefined;
}

/** Whether a device — its TotalResource, where it is (absent: unknown) — passes the filters. */
export function matchesResourceFilters(f: ResourceFilters, total: TotalResource | undefined, at: DeviceLocation | undefined): boolean {
  const cr = total?.ResourceInfo.ComputeResource;
  if (f.ProductType !== undefined && f.ProductType !== total?.ProductType) return false;
  if (f.Chip !== undefined && !(cr?.Chip ?? '').includes(f.Chip)) return false;
  if (f.DriverVersion !== undefined && f.DriverVersion !== cr?.DriverVersion) return false;
  if (!within(at?.longitude, f.LongitudeMin, f.LongitudeMax) || !within(at?.latitude, f.LatitudeMin, f.LatitudeMax)) return false;
  if (f.ExtendCond) {
    const ext = (total?.ResourceInfo.ExtendInfo ?? {}) as Record<string, unknown>;
    for (const [k, v] of Object.entries(f.ExtendCond)) if (JSON.stringify(ext[k]) !== JSON.stringify(v)) return false;
  }
  return true;
}
