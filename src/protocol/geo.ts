/**
 * Longitude/latitude as the standard writes them: n10,6 — at most 10 digits, exactly 6 after
 * the decimal point ("精确到小数点后6位"), optionally signed, within the geographic range.
 */

const RE = /^-?(\d{1,4})\.(\d{6})$/;

function inRange(s: string, limit: number): boolean {
  if (!RE.test(s)) return false;
  const v = Number(s);
  return v >= -limit && v <= limit;
}

/** True for "116.397128"-style longitudes in [-180, 180]. */
export const isLongitude = (s: string): boolean => inRange(s, 180);
/** True for "39.916527"-style latitudes in [-90, 90]. */
export const isLatitude = (s: string): boolean => inRange(s, 90);

/** Formats degrees as n10,6. */
export function formatCoordinate(deg: number): string {
  return deg.toFixed(6);
}
