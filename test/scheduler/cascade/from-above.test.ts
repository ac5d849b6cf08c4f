/** B.2 step 3: a dispatch from the upper scheduler read back into a request for this level (cascade/from-above.ts requestOf). */
import t from 'tap';
import { constraintsOf, requestOf } from '../../../src/scheduler/cascade/from-above.ts';
import type { CustomInfo, TaskDispatchInfo } from '../../../src/protocol/index.ts';

const dispatch = (o: Partial<TaskDispatchInfo> = {}): TaskDispatchInfo => ({
  TaskID: 'T.1.fuse', TaskAttr: 0, AlgModelInfo: { AlgID: 1004, AlgVersion: '1.0.0' }, InputInfo: { AlgArgs: { WindowMs: 1000 } },
  DstDeviceList: [{ DeviceID: 'top', OutputURL: 'http://top' }], Dependencies: [{ TaskID: 'T.1.frames' }], ...o,
});

t.test('B.2: a stage fed by another subtask\'s results (no StreamURL, Dependencies) is taken, as a fed stage', async (t) => {
  const r = requestOf(dispatch(), 'top');
  if (!r.ok) return t.fail(r.message);
  t.equal(r.fed, true);
  t.strictSame((r.basic.InitiationInfo.CustomInfo as CustomInfo).Inputs, [], 'no stream to read');
  t.equal((r.basic.InitiationInfo.CustomInfo as CustomInfo).AlgID, 1004);
  const s = requestOf(dispatch({ InputInfo: { StreamURL: 'rtsp://cam/1' }, Dependencies: undefined }), 'top');
  t.ok(s.ok && !s.fed, 'a stage reading a stream is not fed');
});

t.test('B.2: a dispatch with neither a stream nor Dependencies is refused, naming the field', async (t) => {
  const r = requestOf(dispatch({ Dependencies: [] }), 'top');
  t.match(r, { ok: false, message: /^task T\.1\.fuse: InputInfo\.StreamURL: needed, or Dependencies/ });
});

t.test('B.2: the task\'s Constraints travel down in ExecutionCond.ExtendedInfo; DeployOn (the level above\'s device) stays above', async (t) => {
  const d = dispatch({ ExecutionCond: { ExtendedInfo: { Constraints: { Strategy: 'balanced', DeployOn: 'input-device', LongitudeMin: '116' } } } });
  const r = requestOf(d, 'top');
  t.ok(r.ok);
  if (r.ok) t.strictSame(r.basic.Constraints, { Strategy: 'balanced', LongitudeMin: '116' });
  t.equal(constraintsOf(dispatch()), undefined, 'none given, none taken');
  t.equal(constraintsOf(dispatch({ ExecutionCond: { ExtendedInfo: { Constraints: ['x'] } } })), undefined, 'not an object: ignored');
});
