/** 9.9 Progress: frames done over frames expected (a file, its duration probed), or time elapsed over TimeRange (live). */
import t from 'tap';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ExecTask } from '../../src/runtime/exec-task.ts';
import { probeDurationMs } from '../../src/runtime/media/duration.ts';
import { ExecutionStatus, formatRetinaDateTime, type TaskDispatchInfo } from '../../src/protocol/index.ts';
import { clip } from '../helpers/media.ts';
import { parseDurationLine } from '../../src/runtime/frame-sampler.ts';

const info = (extra: Partial<TaskDispatchInfo> = {}): TaskDispatchInfo => ({ TaskID: 'p', TaskAttr: 0, AlgModelInfo: { AlgID: 1001, AlgVersion: '1.0.0' }, InputInfo: { StreamURL: 'file:///x.mp4' }, DstDeviceList: [], ...extra });

t.test('9.9: a file\'s duration is probed; Progress is frames done over frames expected, 100 only when done', async (t) => {
  const file = clip(path.join(t.testdir({}), 'three.mp4'), { seconds: 3 });
  const ms = await probeDurationMs(pathToFileURL(file).href);
  t.ok(ms !== undefined && Math.abs(ms - 3000) <= 100, `3 s clip: ${ms} ms`);
  t.equal(await probeDurationMs('rtsp://camera/live'), undefined, 'a live source is not probed');
  const task = new ExecTask(info(), 1);
  task.transition(ExecutionStatus.Running);
  task.expectedFrames = 6; // 3 s at 2 fps
  task.framesIn = 3;
  t.equal(task.toStatus().Progress, 50);
  task.framesIn = 6;
  t.equal(task.toStatus().Progress, 99, 'all frames taken but not finished: not yet 100');
  task.transition(ExecutionStatus.Done);
  t.equal(task.toStatus().Progress, 100);
});

t.test('9.9: a live task in a TimeRange window reports the time elapsed over the window', async (t) => {
  const now = Date.now();
  const task = new ExecTask(info({ TaskAttr: 1, ExecutionCond: { TimeRange: [{ StartTime: formatRetinaDateTime(now - 2_000), EndTime: formatRetinaDateTime(now + 8_000) }] } }), 1);
  task.transition(ExecutionStatus.Running);
  const p = task.currentProgress(now);
  t.ok(p >= 19 && p <= 21, `2 s into a 10 s window: ${p} %`);
  task.transition(ExecutionStatus.Paused);
  t.equal(task.currentProgress(now), task.progress, 'paused: the last reported value stands');
});

t.test('9.9: the pipe backend reads the duration ffmpeg states when it opens a source; a live one states none', async (t) => {
  t.equal(parseDurationLine('  Duration: 00:01:02.50, start: 0.000000, bitrate: 2041 kb/s'), 62_500);
  t.equal(parseDurationLine('  Duration: N/A, start: 1.400000, bitrate: N/A'), undefined, 'a live stream');
  t.equal(parseDurationLine('    Stream #0:0: Video: h264'), undefined);
});
