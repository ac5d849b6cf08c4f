/** Table 20 ExecutionCond of a task's subtasks (subtask-plan.ts): time windows (SB4), and the task's Constraints for a lower scheduler (B.2). */
import t from 'tap';
import { executionCond } from '../../src/scheduler/subtask-plan.ts';
import { planSubtasks } from '../../src/scheduler/planner.ts';
import type { CustomInfo, TaskBasicInfo } from '../../src/protocol/index.ts';

const custom: CustomInfo = { Inputs: [{ StreamURL: 'rtsp://cam/1' }], AlgID: 1001 };
const basic = (c?: Record<string, unknown>): TaskBasicInfo => ({ TaskName: 'x', ...(c ? { Constraints: c } : {}), InitiationInfo: { DeviceID: 'i' } });

t.test('B.2: a subtask carries its task\'s Constraints in ExecutionCond.ExtendedInfo (a lower scheduler places it by them); none, no ExecutionCond', async (t) => {
  t.equal(executionCond(basic(), custom), undefined);
  t.equal(executionCond(basic({}), custom), undefined, 'empty Constraints: nothing to carry');
  t.strictSame(executionCond(basic({ Strategy: 'balanced' }), custom), { ExtendedInfo: { Constraints: { Strategy: 'balanced' } } });
  const windows = [{ StartTime: '2026-01-01 00:00:00', EndTime: '2026-01-01 01:00:00' }];
  t.strictSame(executionCond(basic({ Strategy: 'balanced' }), { ...custom, TimeRange: windows }), { TimeRange: windows, ExtendedInfo: { Constraints: { Strategy: 'balanced' } } }, 'SB4 windows kept beside them');
  t.strictSame(planSubtasks('T', basic({ MemoryBytes: 1 }), custom, { deviceId: 's', url: 'http://s' })[0]?.dispatch.ExecutionCond, { ExtendedInfo: { Constraints: { MemoryBytes: 1 } } }, 'the planner puts them there');
});
