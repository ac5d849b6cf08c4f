/**
 * The standard's datetime, "YYYY-MM-DD hh:mm:ss.ss" (local wall time of the sender, hundredths
 * of a second). Parsing checks the calendar, not just the shape.
 */

// The standard writes the format with hundredths ("hh:mm:ss.ss"); a datetime without them is not
// in that format, so it is refused rather than guessed at.
const RE = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{2})$/;

function daysIn(year: number, month: number): number {
  return [31, year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
}

/** True for a well-formed, real calendar datetime ("2024-02-30 …" is false). */
export function isRetinaDateTime(s: string): boolean {
  const m = RE.exec(s);
  if (!m) return false;
  // Every group matches when the RE does; NaN for a missing one would fail the checks below.
  const [, y = NaN, mo = NaN, d = NaN, h = NaN, mi = NaN, se = NaN] = m.map(Number);
  return mo >= 1 && mo <= 12 && d >= 1 && d <= daysIn(y, mo) && h <= 23 && mi <= 59 && se <= 59;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Formats epoch milliseconds as "YYYY-MM-DD hh:mm:ss.ss" in the given UTC offset (minutes). */
export function formatRetinaDateTime(epochMs: number, offsetMinutes = -new Date(epochMs).getTimezoneOffset()): string {
  const d = new Date(epochMs + offsetMinutes * 60_000);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(Math.floor(d.getUTCMilliseconds() / 10))}`;
}

/** Parses a datetime (in the given UTC offset, minutes) back to epoch ms; NaN when invalid. */
export function parseRetinaDateTime(s: string, offsetMinutes?: number): number {
  if (!isRetinaDateTime(s)) return NaN;
  const m = RE.exec(s)!;
  const [y = NaN, mo = NaN, d = NaN, h = NaN, mi = NaN, se = NaN, cs = NaN] = m.slice(1, 8).map(Number);
  const utc = Date.UTC(y, mo - 1, d, h, mi, se, cs * 10);
  const off = offsetMinutes ?? -new Date(utc).getTimezoneOffset();
  return utc - off * 60_000;
}
