/** B.3 step 4, part of a task: which stages may go up on their own, and the request that carries them (cascade/partial.ts). */
import t from 'tap';
import { detachable, partRequest } from '../../../src/scheduler/cascade/partial.ts';
import type { CustomInfo, TaskBasicInfo } from '../../../src/protocol/index.ts';

const custom = (stages: NonNullable<CustomInfo['Topology']>['Stages']): CustomInfo => ({ Inputs: [{ StreamURL: 'rtsp://cam/1' }], AlgType: 'frame_extraction', Topology: { Stages: stages }, NotifyURL: 'https://initiator.example/cb' });

t.test('B.3 step 4: only stages that read the stream and feed no other stage may go up apart from the rest', async (t) => {
  const parallel = custom([{ Name: 'a', After: [] }, { Name: 'b', After: [], DeviceType: '2' }]);
  t.equal(detachable(parallel, ['b']), true, 'an independent source stage');
  const chain = custom([{ Name: 'a', After: [] }, { Name: 'b', After: ['a'] }]);
  t.equal(detachable(chain, ['b']), false, 'a stage fed by another');
  t.equal(detachable(chain, ['a']), false, 'a stage feeding another');
  t.equal(detachable(custom([{ Name: 'a', After: [] }, { Name: 'b' }]), ['b']), false, 'After absent: the stage before feeds it');
  t.equal(detachable({ Inputs: [{ StreamURL: 'rtsp://cam/1' }], AlgType: 'x' }, ['a']), false, 'no Topology: no stages to split');
  t.equal(detachable(parallel, []), false, 'nothing to hand up');
  t.equal(detachable(parallel, ['zzz']), false, 'a stage that does not exist');
});

t.test('B.3 step 4: the request for the part names only those stages, the initiator in Applicant, this site in AvoidDevices, and carries no NotifyURL', async (t) => {
  const basic: TaskBasicInfo = { TaskName: 'two stages', Constraints: { Strategy: 'balanced', AvoidDevices: ['elsewhere', 'lower-a'] }, InitiationInfo: { DeviceID: 'initiator-1' } };
  const c = custom([{ Name: 'a', After: [] }, { Name: 'b', After: [], DeviceType: '2' }]);
  const part = partRequest(basic, c, ['b'], 'lower-a', 'alice');
  const pc = part.InitiationInfo.CustomInfo as CustomInfo;
  t.strictSame(pc.Topology?.Stages, [{ Name: 'b', After: [], DeviceType: '2' }], 'only the stage handed up');
  t.equal(pc.NotifyURL, undefined, 'the initiator hears from the lower scheduler, not from above');
  t.equal(part.InitiationInfo.Applicant, 'alice', 'the initiator named for the upper level\'s review');
  t.strictSame(part.Constraints, { Strategy: 'balanced', AvoidDevices: ['elsewhere', 'lower-a'] }, 'the Constraints kept, this site avoided once');
  t.strictSame(partRequest({ ...basic, Constraints: undefined }, c, ['b'], 'lower-a', undefined).Constraints, { AvoidDevices: ['lower-a'] });
  t.equal(c.NotifyURL, 'https://initiator.example/cb', 'the task kept here is unchanged');
});
