// Types for scripts/tap-count.mjs (plain JS so it runs before any build), for its unit test.
export interface TapPoint { ok: boolean; name: string; directive: 'skip' | 'todo' | null; reason: string; buffered: boolean }
export interface TapSkip { name: string; kind: 'skip' | 'todo'; reason: string }
export interface TapFailure { name: string; reason: string }
export interface TapCount {
  passed: number;
  failed: number;
  skipped: number;
  failures: TapFailure[];
  skips: TapSkip[];
  bailOut: string | null;
}
export function parsePoint(line: string): TapPoint | null;
export class TapCounter {
  write(chunk: string): void;
  line(raw: string): void;
  end(): TapCount;
}
export function countTap(text: string): TapCount;
export function closingLine(c: { passed: number; failed: number; skipped: number }): string;
