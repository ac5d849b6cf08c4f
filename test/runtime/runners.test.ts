/**
 * The plugin runner's per-frame path (runners/plugin.ts), on a real outbox and a scripted source
 * and pool: frame n+1 is decoded, preprocessed and handed to the pool while frame n is in the
 * plugin (one ahead, no more), results go out in frame order, temporal plugins get the previous
 * frame, a stop or pause is honoured, every frame is released, the preprocess spec is checked
 * once per task, input buffers come back for reuse, and back-pressure is a wait on the outbox's
 * deliveries, not a poll.
 */
import t, { type Test } from 'tap';
import { defined } from '../helpers/defined.ts';
import Database from 'better-sqlite3';
import path from 'node:path';
import { pino } from 'pino';
import { ExecutionStatus } from '../../src/protocol/index.ts';
import { ExecTask } from '../../src/runtime/exec-task.ts';
import { Outbox } from '../../src/runtime/outbox.ts';
import { CorrectedClock } from '../../src/runtime/clock.ts';
import { ExecutorMetrics } from '../../src/runtime/metrics.ts';
import type { FrameSource, SourceFrame } from '../../src/runtime/media/frame-source.ts';
import { isPrepared, type PreprocessSpec } from '../../src/runtime/media/preprocess-spec.ts';
import { OUTBOX_HIGH_WATER, OUTBOX_LOW_WATER, type RunContext } from '../../src/runtime/runners/context.ts';
import { runPlugin } from '../../src/runtime/runners/plugin.ts';
import { runFrames } from '../../src/runtime/runners/frames.ts';
import { PluginCallError, type CallInput, type CallResult } from '../../src/plugins/pool.ts';
import type { LoadedPlugin } from '../../src/plugins/registry.ts';
import type { Batcher } from '../../src/plugins/batcher.ts';
import type { PluginPool } from '../../src/plugins/pool.ts';
import type { OutboxSender } from '../../src/runtime/outbox.ts';

const log = pino({ level: 'silent' });
const SINK = 'http://sink';

/** Until `cond` holds (checked on every turn of the event loop), at most `ms`. */
async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** A source of `n` 64×48 frames; it records what the runner does with them. */
function scriptedSource(n: number, events: string[]) {
  const seen = { decoded: 0, released: [] as number[], specs: [] as unknown[], crops: [] as unknown[], outs: [] as ArrayBufferLike[] };
  let i = 0;
  let closed = false;
  const source: FrameSource = {
    backend: 'native',
    stats: () => ({ backend: 'native', decode: 'software', codec: 'h264', width: 64, height: 48, framesSampled: i, framesDecoded: i, reconnects: 0, sourceFps: 25 }),
    close: () => { closed = true; },
    next: async () => {
      if (closed || i >= n) return null;
      const index = i++;
      seen.decoded++;
      events.push(`decode ${index}`);
      const f: SourceFrame = {
        ptsMs: index * 200, wallMs: Date.now(), width: 64, height: 48, index,
        jpeg: async () => Buffer.alloc(0),
        png: async () => Buffer.from('png'),
        preprocess: async (spec, out, crop) => {
          seen.specs.push(spec);
          if (crop) { seen.crops.push(crop); return { scaleX: 1, scaleY: 1, padX: 0, padY: 0, contentWidth: 4, contentHeight: 4 }; }
          const u8 = out instanceof ArrayBuffer ? new Uint8Array(out) : new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
          seen.outs.push(u8.buffer);
          u8[0] = index; // the frame's number travels in its tensor
          events.push(`preprocess ${index}`);
          // Input tensor 32×24 from a 64×48 frame: boxes come back at half scale.
          return { scaleX: 0.5, scaleY: 0.5, padX: 0, padY: 0, contentWidth: 32, contentHeight: 24 };
        },
        release: () => { seen.released.push(index); },
      };
      return f;
    },
  };
  return { source, seen };
}

interface HeldCall { c: CallInput; frame: number; resolve: (r: CallResult) => void; reject: (e: Error) => void }

/** A pool whose frame calls wait until the test answers them (or answers at once with `auto`). */
function scriptedPool(events: string[]) {
  const held: HeldCall[] = [];
  let auto = false;
  let inFlight = 0;
  let maxInFlight = 0;
  const answer = (h: HeldCall) => {
    inFlight--;
    events.push(`answer ${h.frame}`);
    // The worker moves the input back (the same object here: nothing detaches it in this test).
    h.resolve({ output: { Results: [{ Type: 1, ResultData: { Frame: h.frame, Boxes: [{ x: 2, y: 2, w: 10, h: 8 }] } }] }, providers: [], queueMs: 0, inferMs: 1, postMs: 1, totalMs: 2,
      ...(h.c.input instanceof ArrayBuffer ? { input: h.c.input } : {}) });
  };
  const call = (_p: LoadedPlugin, c: CallInput): Promise<CallResult> => new Promise((resolve, reject) => {
    const frame = new Uint8Array(c.input)[0] ?? -1;
    events.push(`call ${frame}`);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const h = { c, frame, resolve, reject };
    if (auto) setImmediate(() => answer(h));
    else held.push(h);
  });
  const crops: CallInput[] = [];
  const pool = { call: async (_p: LoadedPlugin, c: CallInput): Promise<CallResult> => { crops.push(c); return { output: { Text: 'RETINA' }, providers: [], queueMs: 0, inferMs: 1, postMs: 1, totalMs: 2 }; } };
  return {
    held, crops, batcher: { call } as unknown as Batcher, pool: pool as unknown as PluginPool,
    answer: (frame: number) => { const i = held.findIndex((h) => h.frame === frame); answer(defined(held.splice(i, 1)[0], `a held call for frame ${frame}`)); },
    fail: (frame: number) => { const i = held.findIndex((h) => h.frame === frame); const h = defined(held.splice(i, 1)[0], `a held call for frame ${frame}`); inFlight--; h.reject(new PluginCallError('trap', 'it trapped')); },
    auto: () => { auto = true; for (const h of held.splice(0)) answer(h); },
    get maxInFlight() { return maxInFlight; },
  };
}

function plugin(o: { previousFrame?: boolean; cropStage?: boolean } = {}): LoadedPlugin {
  const input = { width: 32, height: 24, resize: 'stretch' as const, layout: 'nhwc' as const, dtype: 'uint8' as const, ...(o.previousFrame ? { previousFrame: true } : {}) };
  return {
    dir: '/nowhere', wasmPath: '/nowhere/plugin.wasm', memoryInitialPages: 1, memoryMaximumPages: 1, models: [],
    manifest: {
      abi: 1, AlgID: 9001, AlgType: 'scripted', AlgVersion: '1.0.0', TaskType: 6, publisher: { name: 'test' }, entry: { wasm: 'plugin.wasm' }, input,
      ...(o.cropStage ? { cropStage: { input: { width: 16, height: 8, dtype: 'uint8' as const }, export: 'rd_process_crop', maxCrops: 4 } } : {}),
      resources: { memoryMB: 16, threads: 1, accelerator: 'cpu' }, limits: { wasmMemoryPages: 1, callDeadlineMs: 1000, maxOutputBytes: 65536 },
    },
  } as unknown as LoadedPlugin;
}

function harness(t: Test, sender?: OutboxSender) {
  const db = new Database(path.join(t.testdir({}), 'executor.db'));
  // By default nothing is acknowledged (the first send never ends): the results stay in the table to be read.
  const outbox = new Outbox(db, sender ?? (() => new Promise(() => undefined)), log);
  const events: string[] = [];
  const pool = scriptedPool(events);
  const task = new ExecTask({ TaskID: 'T1', TaskAttr: 0, AlgModelInfo: { AlgID: 9001, AlgVersion: '1.0.0' }, InputInfo: { StreamURL: 'file:///clip.mp4', TaskFrameRate: 5 }, DstDeviceList: [{ DeviceID: 'S' }] }, 1);
  task.transition(ExecutionStatus.Running);
  let closed = false;
  const ctx: RunContext = {
    deviceId: 'edge-1', schedulerUrl: SINK, clock: new CorrectedClock(), log, outbox,
    get closed() { return closed; },
    destinations: () => [SINK], changed: () => undefined, pluginPool: () => pool.pool, pluginBatcher: () => pool.batcher,
    metrics: new ExecutorMetrics({ tasks: () => [task], framesDecoded: () => undefined, outbox: () => ({ backlog: 0, oldestAgeMs: 0 }), decoder: () => ({ Active: 'native', FFmpegLibs: null }) }),
  };
  /** The results queued so far: each one's frame number (from the scripted output) and Pts. */
  const results = () => (db.prepare("SELECT body FROM outbox WHERE json_extract(body, '$.body.CommandType') = 'task_result' ORDER BY id").all() as Array<{ body: string }>)
    .map((r) => (JSON.parse(r.body) as { body: { MessageBody: { TaskResultData: { AnalysisResult: Array<{ ResultData: Record<string, unknown> }> } } } }).body.MessageBody.TaskResultData.AnalysisResult[0]?.ResultData ?? {});
  t.teardown(() => { outbox.close(); db.close(); });
  return { db, outbox, events, pool, task, ctx, results, close: () => { closed = true; } };
}

t.test('frame n+1 is decoded, preprocessed and handed to the pool while frame n is in the plugin; one ahead, results in order', async (t) => {
  const h = harness(t);
  const { source, seen } = scriptedSource(6, h.events);
  const done = runPlugin(h.ctx, h.task, source, plugin());
  await until('two calls in flight', () => h.pool.held.length === 2);
  t.strictSame(h.pool.held.map((c) => c.frame), [0, 1], 'frame 1 went to the pool before frame 0 came back');
  await new Promise((r) => setTimeout(r, 30));
  t.equal(seen.decoded, 2, 'and no third frame was decoded: one ahead, no more');
  // Frame 1 answers first; its result still goes out after frame 0's.
  h.pool.answer(1);
  await new Promise((r) => setTimeout(r, 10));
  t.equal(h.results().length, 0, 'frame 1 waits for frame 0');
  h.pool.answer(0);
  await until('frames 0 and 1 emitted', () => h.results().length === 2);
  h.pool.auto();
  await done;
  t.strictSame(h.results().map((r) => r.Frame), [0, 1, 2, 3, 4, 5], 'every frame, in frame order');
  t.strictSame(h.results().map((r) => r.Pts), [0, 200, 400, 600, 800, 1000]);
  t.strictSame((h.results()[0]?.Boxes as unknown[])[0], { x: 4, y: 4, w: 20, h: 16 }, 'boxes mapped from tensor to frame pixels');
  t.equal(h.pool.maxInFlight, 2, 'never more than two calls at once');
  t.strictSame([...seen.released].sort(), [0, 1, 2, 3, 4, 5], 'every native frame released');
  t.equal(h.task.framesIn, 6);
  t.equal(h.task.framesOut, 6);
  t.ok(seen.specs.every((s) => s === seen.specs[0]) && isPrepared(seen.specs[0] as PreprocessSpec), 'one spec, checked once, for every frame');
  t.ok(Object.isFrozen(seen.specs[0]), 'and frozen: it cannot change after its check');
  t.ok(new Set(seen.outs).size <= 3, `input buffers moved back by the worker are reused (${new Set(seen.outs).size} buffers for 6 frames)`);
});

t.test('a temporal plugin gets the previous frame\'s tensor with each frame, also with two frames in flight', async (t) => {
  const h = harness(t);
  const { source } = scriptedSource(4, h.events);
  const done = runPlugin(h.ctx, h.task, source, plugin({ previousFrame: true }));
  await until('two calls in flight', () => h.pool.held.length === 2);
  const [c0, c1] = h.pool.held.map((x) => x.c) as [CallInput, CallInput];
  t.ok(c0.input instanceof SharedArrayBuffer, 'shared memory, so it stays readable as the next previous frame');
  t.equal(c0.previous, undefined, 'the first frame has none');
  t.equal(c1.previous, c0.input, 'frame 1 gets frame 0\'s tensor');
  h.pool.auto();
  await done;
  t.strictSame(h.results().map((r) => r.Frame), [0, 1, 2, 3]);
});

t.test('a failed call costs its frame only; the crop stage runs per box with the crop spec checked once', async (t) => {
  const h = harness(t);
  const { source, seen } = scriptedSource(3, h.events);
  const done = runPlugin(h.ctx, h.task, source, plugin({ cropStage: true }));
  await until('two calls in flight', () => h.pool.held.length === 2);
  h.pool.fail(0);
  h.pool.auto();
  await done;
  t.strictSame(h.results().map((r) => r.Frame), [1, 2], 'frame 0 skipped, the others sent');
  t.equal(h.task.framesIn, 3);
  t.equal(h.task.framesOut, 2);
  t.equal(h.task.exceptionCode, 50);
  t.match(h.task.exceptionDesc, /frame at 0 ms: it trapped/);
  t.equal(h.pool.crops.length, 2, 'one crop call per box');
  t.strictSame(seen.crops, [{ x: 4, y: 4, width: 20, height: 16 }, { x: 4, y: 4, width: 20, height: 16 }], 'cropped from the frame at the mapped box');
  const cropSpecs = seen.specs.filter((s) => (s as { width: number }).width === 16);
  t.ok(cropSpecs.length === 2 && cropSpecs[0] === cropSpecs[1] && isPrepared(cropSpecs[0] as PreprocessSpec), 'the crop spec is one prepared object too');
  t.equal((h.results()[0]?.Boxes as Array<Record<string, unknown>>)[0]?.Text, 'RETINA', 'the crop stage\'s answer merged into its box');
  t.strictSame([...seen.released].sort(), [0, 1, 2], 'every frame released, the failed one too');
});

t.test('a stop ends the loop with the frame in the plugin; the frame started ahead is released without a result', async (t) => {
  const h = harness(t);
  const { source, seen } = scriptedSource(100, h.events);
  const done = runPlugin(h.ctx, h.task, source, plugin());
  await until('two calls in flight', () => h.pool.held.length === 2);
  h.task.transition(ExecutionStatus.Done); // Control 1: halt() closes the source, the status is set
  source.close();
  h.pool.answer(0);
  h.pool.answer(1);
  await done;
  t.strictSame(h.results().map((r) => r.Frame), [0], 'the frame in the plugin at the stop gave its result, no later one');
  t.equal(seen.decoded, 2, 'nothing decoded after the stop');
  t.strictSame([...seen.released].sort(), [0, 1], 'both frames released');
});

t.test('an executor closing ends the loop too, releasing what it holds', async (t) => {
  const h = harness(t);
  const { source, seen } = scriptedSource(100, h.events);
  const done = runPlugin(h.ctx, h.task, source, plugin());
  await until('two calls in flight', () => h.pool.held.length === 2);
  h.close();
  h.pool.auto();
  await done;
  t.equal(seen.decoded, 2);
  t.strictSame([...seen.released].sort(), [0, 1]);
});

t.test('a paused task takes no new frame until it is resumed', async (t) => {
  const h = harness(t);
  const { source, seen } = scriptedSource(5, h.events);
  const done = runPlugin(h.ctx, h.task, source, plugin());
  await until('two calls in flight', () => h.pool.held.length === 2);
  h.task.transition(ExecutionStatus.Paused);
  h.pool.auto();
  await until('the frames in flight emitted', () => h.results().length === 2);
  await new Promise((r) => setTimeout(r, 150));
  t.equal(seen.decoded, 2, 'no frame taken while paused');
  h.task.transition(ExecutionStatus.Running);
  await done;
  t.equal(h.results().length, 5, 'the rest after the resume');
});

t.test('back-pressure: over the high water the loop waits for the deliveries to drain to the low water, woken by them, without polling the outbox', async (t) => {
  const hold: Array<() => void> = [];
  let delivering = false;
  const h = harness(t, async () => {
    if (!delivering) await new Promise<void>((r) => hold.push(r));
    return { ok: true };
  });
  h.outbox.start();
  const { source, seen } = scriptedSource(OUTBOX_HIGH_WATER + 40, h.events);
  h.pool.auto();
  let reads = 0;
  const pending = h.outbox.pending.bind(h.outbox);
  h.outbox.pending = (id?: string) => { reads++; return pending(id); };
  // The backlog when each frame is taken: where the loop stopped, and where it went on.
  const backlogAtDecode: number[] = [];
  const next = source.next.bind(source);
  source.next = () => { backlogAtDecode.push(pending('T1')); return next(); };
  const done = runPlugin(h.ctx, h.task, source, plugin());
  // The first send is held: everything after it waits in the outbox.
  await until('the high water', () => h.outbox.pending('T1') > OUTBOX_HIGH_WATER, 20_000);
  const decoded = seen.decoded;
  await new Promise((r) => setTimeout(r, 200));
  t.ok(seen.decoded <= decoded + 1, `no frame taken while the results back up (${seen.decoded} decoded, ${h.outbox.pending('T1')} waiting)`);
  const readsBlocked = reads;
  await new Promise((r) => setTimeout(r, 200));
  t.ok(reads - readsBlocked <= 6, `the backlog (in memory, no query) is read a few times at most while waiting: ${reads - readsBlocked} in 200 ms`);
  // Deliveries resume; the loop goes on once the backlog is down to the low water.
  delivering = true;
  for (const r of hold.splice(0)) r();
  await done;
  t.equal(h.task.framesOut, OUTBOX_HIGH_WATER + 40, 'every frame analysed in the end');
  const stopped = backlogAtDecode.findIndex((n) => n > OUTBOX_HIGH_WATER);
  t.ok(stopped < 0 || (backlogAtDecode[stopped + 1] ?? 0) <= OUTBOX_LOW_WATER + 2, `taken again once the backlog was down to the low water (${backlogAtDecode[stopped + 1]})`);
  t.ok(Math.max(...backlogAtDecode) <= OUTBOX_HIGH_WATER + 2, 'never more than the high water (and the frames in flight) queued');
  t.equal(await h.outbox.flush('T1', 20_000), 0, 'and delivered');
  t.ok(OUTBOX_LOW_WATER < OUTBOX_HIGH_WATER);
});

t.test('frame extraction uses the same admission: it stops at a stop', async (t) => {
  const h = harness(t);
  let n = 0;
  const source: FrameSource = {
    backend: 'native', close: () => undefined, stats: () => ({ backend: 'native', decode: 'software', codec: '', width: 0, height: 0, framesSampled: 0, framesDecoded: 0, reconnects: 0, sourceFps: 0 }),
    next: async () => {
      if (++n === 3) h.task.transition(ExecutionStatus.Done);
      return { ptsMs: n * 200, wallMs: 0, width: 8, height: 8, index: n, jpeg: async () => Buffer.from('jpeg'), png: async () => Buffer.alloc(0), preprocess: async () => { throw new Error('unused'); }, release: () => undefined };
    },
  };
  await runFrames(h.ctx, h.task, source);
  t.equal(h.outbox.pending('T1'), 2, 'the frames taken before the stop were sent; not the one that arrived after it');
});

/** A source whose next() waits until the test lets the frame through: a decode in progress. */
function gatedSource(events: string[]) {
  const inner = scriptedSource(4, events);
  const gates: Array<() => void> = [];
  const source: FrameSource = {
    ...inner.source,
    next: async () => { await new Promise<void>((r) => gates.push(r)); return inner.source.next(); },
  };
  return { source, seen: inner.seen, gates };
}

for (const runner of ['plugin', 'frames'] as const) {
  t.test(`9.7 (${runner} runner): a frame that arrives after the pause is held until the resume, not run or emitted`, async (t) => {
    const h = harness(t);
    h.pool.auto();
    const { source, seen, gates } = gatedSource(h.events);
    const done = runner === 'plugin' ? runPlugin(h.ctx, h.task, source, plugin()) : runFrames(h.ctx, h.task, source);
    await until('a decode in progress', () => gates.length === 1);
    h.task.transition(ExecutionStatus.Paused);
    gates.shift()!();
    await until('the frame decoded', () => seen.decoded === 1);
    await new Promise((r) => setTimeout(r, 200));
    t.equal(h.task.framesOut, 0, 'nothing produced while paused');
    t.equal(h.outbox.pending('T1'), 0, 'nothing emitted while paused');
    t.strictSame(seen.released, [], 'the frame is held, not dropped');
    h.task.transition(ExecutionStatus.Running);
    await until('the held frame emitted', () => h.outbox.pending('T1') === 1);
    for (let i = 0; i < 4; i++) { await until('the next decode', () => gates.length > 0); gates.shift()!(); }
    await done;
    t.equal(h.outbox.pending('T1'), 4, 'every frame emitted after the resume, none lost');
  });
}
