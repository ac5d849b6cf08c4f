/**
 * Running tasks: which runner a task gets (frames, plugin, transcode, downstream), the input
 * each one holds open, and how a run's end becomes the task's final ExecutionStatus.
 */
import os from 'node:os';
import { ExceptionCode, ExecutionStatus, TaskType, type TaskDispatchInfo, type TaskResultBody, EXCEPTION_DESC_MAX_BYTES, cutUtf8, frameIntervalMs } from '../protocol/index.ts';
import type { Logger } from '../log.ts';
import type { AlgorithmCatalogue } from './catalogue.ts';
import type { ExecTask } from './exec-task.ts';
import { openFrameSource, MediaError, type FrameSource } from './media/frame-source.ts';
import { OptionError, decoderThreads } from './media/decoder-options.ts';
import type { RunContext, Started } from './runners/context.ts';
import { runFrames } from './runners/frames.ts';
import { runPlugin } from './runners/plugin.ts';
import { startTranscode } from './runners/transcode.ts';
import { startDownstream } from './runners/downstream.ts';
import { startFusion } from './runners/fusion.ts';
import { probeDurationMs } from './media/duration.ts';
import { endAt, resolveSlice, sliceArg } from './media/slice.ts';
import type { TaskQueue } from './task-queue.ts';
import type { ProxyLease } from '../net/source-proxy.ts';
import { resumesFrom } from './task-update.ts';
import { runTraining } from './runners/train-network.ts';
import { isSampleSetUrl, openSampleSource } from './sample-source.ts';

const CORES = os.availableParallelism();

/** Progress points between two reports of a running task. */
const PROGRESS_STEP = 10;

export interface TaskRunsOptions {
  ctx: RunContext;
  catalogue: AlgorithmCatalogue;
  queue: TaskQueue;
  log: Logger;
}

export class TaskRuns {
  private readonly sources = new Map<string, FrameSource>();
  /** A closed source's decoded-frame count, for /metrics (a number per task the executor still holds). */
  private readonly decodedAtEnd = new Map<string, number>();
  /** Downstream stages waiting for upstream results, by their TaskID. */
  private readonly inboxes = new Map<string, (b: TaskResultBody) => void>();
  /** Progress report timers of running stream tasks, by TaskID. */
  private readonly progressTimers = new Map<string, NodeJS.Timeout>();
  /** HTTP(S) sources' leases on the source proxy, by TaskID: a refusal there is the task's error. */
  private readonly leases = new Map<string, ProxyLease>();

  constructor(private readonly o: TaskRunsOptions) {}

  /** Frames decoded so far by the task's source (its last count once closed; undefined before it opened). */
  framesDecoded(taskId: string): number | undefined {
    try {
      return this.sources.get(taskId)?.stats().framesDecoded ?? this.decodedAtEnd.get(taskId);
    } catch {
      return this.decodedAtEnd.get(taskId);
    }
  }

  /** Open sources decoding on hardware, by kind (AvailableResource's per-accelerator DecodeSessions). */
  hardwareDecodes(): { cuda: number; vaapi: number } {
    const n = { cuda: 0, vaapi: 0 };
    for (const src of this.sources.values()) {
      try {
        const d = src.stats().decode;
        if (d === 'cuda' || d === 'vaapi') n[d]++;
      } catch { /* a source closing under us counts as gone */ }
    }
    return n;
  }

  /** Starts `t` on its runner: pull frames or slices, or wait for an upstream stage's results. */
  run(t: ExecTask): void {
    const { ctx } = this.o;
    t.transition(ExecutionStatus.Running);
    ctx.changed(t);
    // An HTTP(S) source opens only through the source proxy: in the moment before it listens
    // (the executor starts it with itself), the task waits for it rather than going around it.
    const proxy = ctx.sourceProxy;
    if (proxy && !proxy.listening && /^https?:/i.test(t.info.InputInfo.StreamURL ?? '')) {
      void proxy.start().then(() => { if (t.status === ExecutionStatus.Running && !this.sources.has(t.id)) this.begin(t); }, (err: Error) => this.finish(t, err));
      return;
    }
    this.begin(t);
  }

  private begin(t: ExecTask): void {
    const { ctx } = this.o;
    const found = this.o.catalogue.resolve(t.info.AlgModelInfo.AlgID, t.info.AlgModelInfo.AlgVersion);
    const builtin = found.ok ? found.run.builtin : undefined;
    const plugin = found.ok ? found.run.plugin : undefined;
    if (builtin?.kind === 'transcode' || builtin?.kind === 'fusion' || (plugin && !t.info.InputInfo.StreamURL && t.info.Dependencies?.length)) {
      let started: Started & { inbox?: (b: TaskResultBody) => void };
      try {
        started = builtin?.kind === 'fusion' ? startFusion(ctx, t) : builtin ? startTranscode(ctx, t, this.proxyFor(t)) : startDownstream(ctx, t, plugin!);
      } catch (err) {
        this.finish(t, err as Error);
        return;
      }
      this.sources.set(t.id, started.handle);
      if (started.inbox) this.inboxes.set(t.id, started.inbox);
      const end = (err: Error | null) => { this.inboxes.delete(t.id); this.finish(t, err, started.handle); };
      void started.done.then(() => end(null), (err: Error) => end(err));
      return;
    }
    // TaskType 7: the plugin's training export over the task's sample set (runners/train.ts; a dense network's, runners/train-network.ts).
    if (plugin && t.info.TaskType === TaskType.AITraining) {
      const pool = ctx.trainPool?.();
      if (!pool) { this.finish(t, new Error('TaskType: 7 (AI training) is not available in this runtime')); return; }
      void runTraining(ctx, t, plugin, pool).then(() => this.finish(t, null), (err: Error) => this.finish(t, err));
      return;
    }
    const fps = t.info.InputInfo.TaskFrameRate ?? 1;
    // SB7: one part of a split file: its range is known once the file's duration is.
    const part = sliceArg(t.algArgs);
    if (part && !t.slice) {
      void resolveSlice(t.info.InputInfo.StreamURL ?? '', part, fps).then((r) => {
        t.slice = r;
        if (t.status === ExecutionStatus.Running && !this.sources.has(t.id)) this.begin(t);
      }, (err: Error) => this.finish(t, err));
      return;
    }
    const offset = typeof t.algArgs.StartOffsetMs === 'number' && t.algArgs.StartOffsetMs > 0 ? t.algArgs.StartOffsetMs : 0;
    const startMs = Math.max(offset, t.slice?.startMs ?? 0);
    let source: FrameSource;
    try {
      const httpProxy = this.proxyFor(t);
      source = isSampleSetUrl(t.info.InputInfo.StreamURL) ? openSampleSource(t.info.InputInfo.StreamURL!, ctx.authFor) : openFrameSource({ url: t.info.InputInfo.StreamURL!, fps, startMs, readTimeoutMs: 30_000, threads: decoderThreads(CORES, this.sources.size), ...(httpProxy ? { httpProxy } : {}) }, ctx.decoder ?? 'auto');
      if (t.slice && Number.isFinite(t.slice.endMs)) source = endAt(source, t.slice.endMs, fps > 0 ? 500 / fps : 0);
    } catch (err) {
      this.finish(t, err as Error);
      return;
    }
    this.sources.set(t.id, source);
    this.o.queue.stopAtWindowEnd(t, () => source.close());
    this.trackProgress(t, source, startMs, fps, t.slice?.endMs);
    const loop = plugin ? runPlugin(ctx, t, source, plugin) : runFrames(ctx, t, source);
    void loop.then(() => this.finish(t, null, source), (err: Error) => this.finish(t, err, source));
  }

  /** The proxy URL an HTTP(S) source goes through (a lease of its own), or undefined. */
  private proxyFor(t: ExecTask): string | undefined {
    const url = t.info.InputInfo.StreamURL;
    if (!url || !/^https?:/i.test(url) || !this.o.ctx.sourceProxy) return undefined;
    this.leases.get(t.id)?.release();
    const lease = this.o.ctx.sourceProxy.lease('InputInfo.StreamURL');
    this.leases.set(t.id, lease);
    return lease.url;
  }

  /**
   * SB2: `t` switches to `info` (another version or arguments) at a frame boundary: the run stops
   * after its frame in flight and starts again on the new work, a file after the last frame
   * analysed, a live source from now (task-update.ts). A task still queued just takes the new work.
   */
  update(t: ExecTask, info: TaskDispatchInfo): void {
    const running = t.status === ExecutionStatus.Running || t.status === ExecutionStatus.Paused;
    if (running) this.halt(t);
    t.info = info;
    const resume = running && t.lastPtsMs >= 0 && resumesFrom(info.InputInfo.StreamURL) === 'position';
    // The next sample after the last frame analysed: 1 ms past it would take that frame again.
    t.algArgs = { ...(info.InputInfo.AlgArgs ?? {}), ...(resume ? { StartOffsetMs: Math.round(t.lastPtsMs + frameIntervalMs(info.InputInfo.TaskFrameRate)) } : {}) };
    if (t.status === ExecutionStatus.Running) this.begin(t);
  }

  /** Hands an upstream stage's result to the running stages that depend on it (EB4). */
  feed(body: TaskResultBody, dependents: Iterable<ExecTask>): void {
    for (const t of dependents) this.inboxes.get(t.id)?.(structuredClone(body));
  }

  /** True when `t` runs as a downstream stage (it ends by draining what it received). */
  isDownstream(t: ExecTask): boolean {
    return this.inboxes.has(t.id);
  }

  /** Closes the task's input: a frame loop ends, a downstream stage drains and ends. */
  closeInput(t: ExecTask): void {
    this.sources.get(t.id)?.close();
  }

  /**
   * 9.9: frames expected come from the source's duration — a local file's probed at once, any
   * other's (an HTTP file, a VOD playlist) as its container stated it when the decoder opened it;
   * a live stream states none. Progress is reported as it moves (in steps of PROGRESS_STEP
   * points, so a long task is not a stream of reports).
   */
  private trackProgress(t: ExecTask, source: FrameSource, startMs: number, fps: number, endMs = Infinity): void {
    // A part of a split file (SB7) expects the frames of its own slice only.
    const expect = (ms: number | undefined) => {
      const to = ms === undefined ? undefined : Math.min(ms, endMs);
      if (!t.expectedFrames && fps > 0 && to !== undefined && to > startMs) t.expectedFrames = Math.max(1, Math.ceil(((to - startMs) / 1000) * fps));
    };
    void probeDurationMs(t.info.InputInfo.StreamURL ?? '').then(expect);
    clearInterval(this.progressTimers.get(t.id));
    const timer = setInterval(() => {
      if (!t.expectedFrames) {
        try { expect(source.stats().durationMs); } catch { /* a source closing under us: nothing more to learn */ }
      }
      const p = t.currentProgress();
      if (p - t.progress >= PROGRESS_STEP) { t.progress = p; this.o.ctx.changed(t); }
    }, 1000);
    timer.unref();
    this.progressTimers.set(t.id, timer);
  }

  /** Stops the task's input and timers now (a stop by command; the caller sets the status). */
  halt(t: ExecTask): void {
    clearInterval(this.progressTimers.get(t.id));
    this.progressTimers.delete(t.id);
    const n = this.framesDecoded(t.id);
    if (n !== undefined) this.decodedAtEnd.set(t.id, n);
    this.sources.get(t.id)?.close();
    this.sources.delete(t.id);
    this.leases.get(t.id)?.release();
    this.leases.delete(t.id);
    this.o.queue.clear(t.id);
  }

  /** Closes every input (shutdown). */
  close(): void {
    for (const s of this.sources.values()) s.close();
  }

  private finish(t: ExecTask, err: Error | null, source?: FrameSource): void {
    // A loop that ends after its task was stopped and started again must not end the new run.
    if (source && this.sources.get(t.id) !== source) { source.close(); return; }
    // A hop the source proxy refused (a redirect or playlist entry to a forbidden host) is why
    // the source failed or ended early: say that, not FFmpeg's "403 Forbidden".
    const refused = this.leases.get(t.id)?.refusal();
    if (refused && (err || t.framesOut === 0)) err = new MediaError('source', refused);
    this.halt(t);
    if (t.finished) return; // stopped by command
    if (err) {
      const code = err instanceof MediaError ? err.exceptionCode : err instanceof OptionError ? ExceptionCode.DataSourceError : ExceptionCode.RunError;
      t.transition(ExecutionStatus.Error, { code, desc: err.message });
      this.o.log.warn({ task: t.id, err: err.message }, 'task failed');
    } else {
      if (!t.info.InputInfo.StreamURL && t.framesIn === 0) {
        t.transition(ExecutionStatus.Done); // a downstream stage whose upstream found nothing to pass on
      } else if (t.framesOut === 0 && t.framesIn > 0) {
        t.transition(ExecutionStatus.Error, { code: ExceptionCode.RunError, desc: cutUtf8(`every one of ${t.framesIn} frames failed in the algorithm: ${t.exceptionDesc ?? ''}`, EXCEPTION_DESC_MAX_BYTES) });
      } else if (t.framesOut === 0) {
        t.transition(ExecutionStatus.Error, { code: ExceptionCode.DataSourceError, desc: `source ${t.info.InputInfo.StreamURL} produced no video frame` });
      } else {
        t.transition(ExecutionStatus.Done);
      }
      this.o.log.info({ task: t.id, frames: t.framesOut }, 'task finished');
    }
    this.o.ctx.changed(t);
    this.o.queue.schedule();
  }
}
