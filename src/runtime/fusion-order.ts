/**
 * B6 for a stage fed by several upstream subtasks: results are kept ordered by Ts within each
 * source (a late one is placed where it belongs, not appended), grouped into time windows, and a
 * window is released only once every source has gone past it (its dependencies are complete for
 * that span) — or once it has waited `maxDelayMs`, so one silent camera cannot hold the rest for
 * ever. A result for a window already released comes out on its own, marked Late.
 */
import type { TaskResultBody } from '../protocol/index.ts';

/**
 * B6 for a stage's inbox: a result is placed before the first one from the same source with a
 * later Ts (a late result is placed, not appended); otherwise it goes at the end, so arrival
 * order between sources is kept.
 */
export function placeByTs<T extends { TaskID: string; Ts: number }>(list: T[], b: T): void {
  const i = list.findIndex((x) => x.TaskID === b.TaskID && x.Ts > b.Ts);
  if (i < 0) list.push(b); else list.splice(i, 0, b);
}

export interface FusedSource { TaskID: string; DeviceID: string; Results: Array<{ Ts: number; AnalysisResult: NonNullable<TaskResultBody['TaskResultData']['AnalysisResult']> }> }
export interface FusedWindow { start: number; sources: FusedSource[]; late: boolean }

interface Pending { start: number; firstSeenAt: number; bySource: Map<string, TaskResultBody[]> }

export class FusionOrder {
  private readonly windows = new Map<number, Pending>();
  /** Highest Ts seen per source: how far each has gone. */
  private readonly watermark = new Map<string, number>();
  /** Windows below this start were released. */
  private releasedBelow = -Infinity;

  /** `sources`: the upstream TaskIDs (Dependencies) in the order the fused result lists them. */
  constructor(private readonly sources: readonly string[], private readonly windowMs: number, private readonly maxDelayMs: number) {}

  /** Takes one upstream result (`now`: wall-clock ms when it arrived). */
  add(b: TaskResultBody, now: number): void {
    const start = Math.floor(b.Ts / this.windowMs) * this.windowMs;
    this.watermark.set(b.TaskID, Math.max(this.watermark.get(b.TaskID) ?? -Infinity, b.Ts));
    let w = this.windows.get(start);
    if (!w) { w = { start, firstSeenAt: now, bySource: new Map() }; this.windows.set(start, w); }
    const list = w.bySource.get(b.TaskID) ?? [];
    // Placed by Ts (binary search; equal Ts keep arrival order), never simply appended.
    let lo = 0, hi = list.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (list[mid]!.Ts <= b.Ts) lo = mid + 1; else hi = mid; }
    list.splice(lo, 0, b);
    w.bySource.set(b.TaskID, list);
  }

  /** Windows ready now, oldest first; `final` releases everything (every upstream is done). */
  take(now: number, final = false): FusedWindow[] {
    const ready: FusedWindow[] = [];
    for (const start of [...this.windows.keys()].sort((a, b) => a - b)) {
      const w = this.windows.get(start)!;
      const late = start < this.releasedBelow;
      const passed = this.sources.every((s) => (this.watermark.get(s) ?? -Infinity) >= start + this.windowMs);
      // Windows go out in order: one not ready holds the later ones (unless it is a late straggler).
      if (!final && !late && !passed && now - w.firstSeenAt < this.maxDelayMs) break;
      this.windows.delete(start);
      if (!late) this.releasedBelow = Math.max(this.releasedBelow, start + this.windowMs);
      ready.push({ start, late, sources: this.order(w) });
    }
    return ready;
  }

  get pending(): number {
    return this.windows.size;
  }

  private order(w: Pending): FusedSource[] {
    const ids = [...this.sources, ...[...w.bySource.keys()].filter((k) => !this.sources.includes(k))];
    return ids.filter((id) => w.bySource.has(id)).map((id) => {
      const list = w.bySource.get(id)!;
      return { TaskID: id, DeviceID: list[0]!.DeviceID, Results: list.map((b) => ({ Ts: b.Ts, AnalysisResult: b.TaskResultData.AnalysisResult ?? [] })) };
    });
  }
}
