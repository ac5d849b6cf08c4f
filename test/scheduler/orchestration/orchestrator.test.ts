/**
 * M6 (conditional stages) across a delete: the orchestrator keeps each task's Topology to judge
 * its results by. A deleted task's entry goes with it, so a task given the same TaskID later (a
 * cascade's upper scheduler keeps its IDs) is judged by its own condition, not the deleted one's.
 */
import t from 'tap';
import { pino } from 'pino';
import { Scheduler } from '../../../src/scheduler/scheduler.ts';
import { waitFor } from '../../helpers/cluster.ts';
import { fakeExecutor, type SeenCommand } from '../../helpers/fake-executor.ts';

const log = pino({ level: 'silent' });
const ALGS = [{ AlgID: 1001, AlgType: 'frame_extraction', AlgVersion: '1.0.0', AlgStatus: 1 }, { AlgID: 2006, AlgType: 'motion_detection', AlgVersion: '1.0.0', AlgStatus: 1 }];

t.test('M6: a TaskID deleted and given again: the new task\'s When is judged, not the deleted task\'s Topology', async (t) => {
  const seen: SeenCommand[] = [];
  const edge = await fakeExecutor('edge-a', { seen, algs: ALGS });
  const s = new Scheduler({ deviceId: 'sched', dataDir: t.testdir({}), publicUrl: 'http://127.0.0.1:1', keepaliveSec: 60, log });
  t.teardown(async () => { await s.close(); edge.close(); });
  s.register({ DeviceID: 'edge-a', DeviceType: '1', ProductType: 'fake', CommandURL: edge.url });
  await s.refreshAlgorithms('edge-a');
  s.start();
  const submit = (when: boolean) => s.submit({ TaskName: 'on motion', TaskType: 6, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: 'rtsp://cam/1' }], TaskFrameRate: 2, Topology: { Stages: [
    { Name: 'motion', AlgType: 'motion_detection', After: [] },
    { Name: 'capture', AlgType: 'frame_extraction', After: ['motion'], Input: 'Stream', ...(when ? { When: { Field: 'Motion', Op: 'eq', Value: true } } : {}) },
  ] } } } }, undefined, 'T');
  let idx = 0;
  const motionResult = () => s.onTaskResult({ CommandType: 'task_result', CommandIdx: idx++, DeviceID: 'edge-a', MessageBody: { TaskID: 'T.1.motion', DeviceID: 'edge-a', DstDeviceList: [],
    AlgID: 2006, AlgVersion: '1.0.0', Ts: idx, CreateTime: '2026-11-29 12:00:00.00', TaskResultData: { AnalysisResult: [{ ResultData: { Motion: true } }] } } }, 'node|edge-a');
  const dispatched = (sub: string) => seen.filter((c) => c.type === 'task_dispatch' && JSON.stringify(c.body).includes(`"TaskID":"${sub}"`)).length;

  // First a task without a condition: both stages run at once, and its results are not judged.
  t.ok((await submit(false)).ok, 'a task without a condition, TaskID T');
  await waitFor('both stages dispatched', async () => (dispatched('T.1.motion') && dispatched('T.1.capture') ? true : undefined), 10_000);
  t.ok(motionResult().ok, 'a result of its motion stage');
  t.ok(await s.management.deleteTask('T'), 'deleted');

  // The same TaskID with capture held until motion is seen.
  const capturesBefore = dispatched('T.1.capture');
  t.ok((await submit(true)).ok, 'the same TaskID taken again, now with When');
  await waitFor('motion dispatched again', async () => (dispatched('T.1.motion') >= 2 ? true : undefined), 10_000);
  t.equal(dispatched('T.1.capture'), capturesBefore, 'capture waits for its condition');
  t.ok(motionResult().ok, 'a motion result that meets it');
  await waitFor('capture started by the condition', async () => (dispatched('T.1.capture') > capturesBefore ? true : undefined), 10_000);
  t.pass('the new task\'s condition was judged');
});
