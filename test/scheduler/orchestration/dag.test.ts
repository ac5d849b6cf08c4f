/** M1, M2, S1: a Topology made a DAG — checks that name the stage and the rule, and the planned edges. */
import t from 'tap';
import { automaticTopology, planDag, topologyProblem } from '../../../src/scheduler/orchestration/dag.ts';
import type { CustomInfo, TaskBasicInfo, TopologySpec } from '../../../src/protocol/index.ts';

const basic: TaskBasicInfo = { TaskName: 'x', TaskType: 10, InitiationInfo: { DeviceID: 'i' } };
const sched = { deviceId: 'sched', url: 'http://s' };
const inputs = [{ StreamURL: 'file:///a.mp4' }, { StreamURL: 'file:///b.mp4' }, { StreamURL: 'file:///c.mp4' }];

t.test('M2: bad topologies are refused naming the stage and the rule', async (t) => {
  const bad = (stages: TopologySpec['Stages']) => topologyProblem({ Stages: stages });
  t.match(bad([{ Name: 'a' }, { Name: 'a' }]), /stage names must be unique/);
  t.match(bad([{ Name: 'a', After: ['b'] }, { Name: 'b' }]), /stage "a" lists "b" in After, which is not a stage before it/, 'no forward edge, so no cycle');
  t.match(bad([{ Name: 'a', Join: true }]), /stage "a" has Join but no upstream stage/);
  t.match(bad([{ Name: 'a' }, { Name: 'b', After: ['a'], Join: true, Input: 'Stream' }]), /is joined .* cannot read one input's stream/);
  t.match(bad([{ Name: 'a', When: { Field: 'x', Op: 'exists' } }]), /has When but no upstream stage/);
  t.match(bad([{ Name: 'a' }, { Name: 'b', After: [] }, { Name: 'c', After: ['a', 'b'], When: { Field: 'x', Op: 'exists' } }]), /When.Stage must name one of its After stages/);
  t.match(bad([{ Name: 'a' }, { Name: 'b', When: { Field: 'x', Op: 'eq' } }]), /When.Op "eq" needs a Value/);
  t.equal(bad([{ Name: 'a' }, { Name: 'b' }]), null, 'a plain list is a serial chain');
});

t.test('M2, SD1: fan-out per input, fan-in to a joined stage, serial after it; Dependencies follow the edges', async (t) => {
  const custom: CustomInfo = { Inputs: inputs, AlgType: 'det', Topology: { Stages: [
    { Name: 'det', After: [] }, { Name: 'track' }, { Name: 'fuse', AlgType: 'result_fusion', After: ['track'], Join: true }, { Name: 'report', AlgType: 'rep' },
  ] } };
  const plans = planDag('T', basic, custom, sched);
  const deps = (id: string) => plans.find((p) => p.subtaskId === id)!.dispatch.Dependencies?.map((d) => d.TaskID);
  t.strictSame(plans.map((p) => p.subtaskId), ['T.1.det', 'T.2.det', 'T.3.det', 'T.1.track', 'T.2.track', 'T.3.track', 'T.fuse', 'T.report']);
  t.strictSame(deps('T.2.track'), ['T.2.det'], 'per input, the same input\'s upstream');
  t.strictSame(deps('T.fuse'), ['T.1.track', 'T.2.track', 'T.3.track'], 'joined: every instance');
  t.strictSame(deps('T.report'), ['T.fuse'], 'after a joined stage, one instance');
  t.equal(plans.find((p) => p.subtaskId === 'T.2.det')!.dispatch.InputInfo.StreamURL, 'file:///b.mp4');
  t.notOk(plans.find((p) => p.subtaskId === 'T.fuse')!.dispatch.InputInfo.StreamURL);
});

t.test('M1: TaskType 10 over several inputs decomposes into analyse-per-input then fuse', async (t) => {
  const topo = automaticTopology(basic, { Inputs: inputs, AlgType: 'motion_detection' });
  t.strictSame(topo?.Stages.map((s) => [s.Name, s.After, s.Join ?? false]), [['analyse', [], false], ['fuse', ['analyse'], true]]);
  t.equal(automaticTopology({ ...basic, TaskType: 8 }, { Inputs: inputs, AlgType: 'x' }), undefined, 'other task types stay one subtask per input');
  t.equal(automaticTopology(basic, { Inputs: inputs.slice(0, 1), AlgType: 'x' }), undefined, 'one input: nothing to fuse');
});

t.test('SB4: a task\'s timed window holds for every stage of its DAG', async (t) => {
  const window = [{ StartTime: '2030-01-01 08:00:00.00', EndTime: '2030-01-01 09:00:00.00' }];
  const plans = planDag('T', basic, { Inputs: inputs.slice(0, 2), AlgType: 'det', TimeRange: window, Topology: { Stages: [{ Name: 'det', After: [] }, { Name: 'fuse', AlgType: 'result_fusion', After: ['det'], Join: true }] } }, sched);
  t.equal(plans.length, 3);
  for (const p of plans) {
    t.strictSame(p.dispatch.ExecutionCond?.TimeRange, window, `${p.subtaskId} starts and stops with the window`);
    t.equal(p.dispatch.TaskAttr, 1, `${p.subtaskId}: TaskAttr 1 (time window)`);
  }
});
