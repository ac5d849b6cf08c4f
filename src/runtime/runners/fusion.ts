/**
 * The built-in fusion stage (ED2 "joint analysis of many executors' data", DE4, TaskType 10):
 * fed by several upstream subtasks (its Dependencies), it releases one fused result per time
 * window with every source's results for that span, in Ts order (B6, fusion-order.ts). A stop
 * (sent when every upstream is done) releases what it holds, then it ends.
 */
import type { TaskResultBody } from '../../protocol/index.ts';
import type { ExecTask } from '../exec-task.ts';
import type { FrameSource } from '../media/frame-source.ts';
import { FusionOrder } from '../fusion-order.ts';
import type { RunContext, Started } from './context.ts';
import { emitResult } from './emit.ts';

/** AlgArgs of the fusion stage: window length and how long a window waits for a silent source. */
export function fusionArgs(args: Record<string, unknown>): { windowMs: number; maxDelayMs: number } | string {
  const windowMs = args.WindowMs ?? 1000;
  const maxDelayMs = args.MaxDelayMs ?? 5000;
  if (typeof windowMs !== 'number' || !Number.isInteger(windowMs) || windowMs < 1 || windowMs > 3_600_000) return 'InputInfo.AlgArgs.WindowMs: must be an integer from 1 to 3600000 (ms)';
  if (typeof maxDelayMs !== 'number' || !Number.isInteger(maxDelayMs) || maxDelayMs < 0 || maxDelayMs > 3_600_000) return 'InputInfo.AlgArgs.MaxDelayMs: must be an integer from 0 to 3600000 (ms)';
  return { windowMs, maxDelayMs };
}

export function startFusion(ctx: RunContext, t: ExecTask): Started & { inbox: (b: TaskResultBody) => void } {
  const a = fusionArgs(t.algArgs);
  if (typeof a === 'string') throw new Error(a);
  const order = new FusionOrder((t.info.Dependencies ?? []).map((d) => d.TaskID), a.windowMs, a.maxDelayMs);
  const inbox: TaskResultBody[] = [];
  let wake: (() => void) | null = null;
  const handle: FrameSource = {
    backend: 'native', next: async () => null, stats: () => ({ backend: 'native', decode: 'upstream', codec: '', width: 0, height: 0, framesSampled: 0, framesDecoded: 0, reconnects: 0, sourceFps: 0 }),
    close: () => { t.draining = true; wake?.(); },
  };
  const release = (final: boolean) => {
    for (const w of order.take(Date.now(), final)) {
      t.framesOut++;
      emitResult(ctx, t, { Ts: w.start, TaskResultData: { AnalysisResult: [{ ResultData: {
        WindowStartTs: w.start, WindowMs: a.windowMs, Sources: w.sources, ...(w.late ? { Late: true } : {}),
      } }] } });
    }
  };
  const loop = async () => {
    for (;;) {
      // Wakes on input, or every 250 ms to release windows that waited their longest.
      if (!inbox.length && !t.draining && !ctx.closed) await new Promise<void>((r) => { wake = r; setTimeout(r, 250).unref(); });
      wake = null;
      while (inbox.length) { order.add(inbox.shift()!, Date.now()); t.framesIn++; }
      const final = t.draining || ctx.closed;
      release(final);
      if (final) return;
    }
  };
  return { handle, inbox: (b) => { inbox.push(b); wake?.(); }, done: loop() };
}
