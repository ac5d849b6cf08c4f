/** M2, SB10, M3, SB7: the README's TaskRequest examples for each DAG shape, the failure policy, event triggers and split inputs are valid CustomInfo the planner accepts. */
import t from 'tap';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { CustomInfo, parse, startOnProblem, type StartOn, type TopologySpec } from '../../../src/protocol/index.ts';
import { topologyProblem } from '../../../src/scheduler/orchestration/dag.ts';
import { partsProblem } from '../../../src/scheduler/planner.ts';

const readme = readFileSync(path.resolve(import.meta.dirname, '..', '..', '..', 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => /"(Topology|FailurePolicy|StartOn|Parts)"/.test(b));

t.test('M2, SB10, M3, SB7: every README example with a Topology, FailurePolicy, StartOn or Parts validates and plans', async (t) => {
  t.ok(blocks.length >= 7, `${blocks.length} examples`);
  t.ok(blocks.filter((b) => b.includes('"StartOn"')).length >= 2, 'event-triggered examples are among them');
  for (const b of blocks) {
    const j = JSON.parse(b.trim().startsWith('{') ? b : `{${b}}`) as Record<string, unknown>;
    const custom = ((j.InitiationInfo as { CustomInfo?: Record<string, unknown> } | undefined)?.CustomInfo ?? j.CustomInfo ?? j) as Record<string, unknown>;
    const ci = parse(CustomInfo, { Inputs: [{ StreamURL: 'rtsp://10.0.0.1/s' }], ...custom });
    t.ok(ci.ok, ci.ok ? 'valid CustomInfo' : ci.message);
    if (custom.Topology) t.equal(topologyProblem(custom.Topology as TopologySpec), null, b.slice(0, 60));
    if (custom.StartOn) t.equal(startOnProblem(custom.StartOn as StartOn), null, b.slice(0, 60));
    if (ci.ok) t.equal(partsProblem(ci.value), null, b.slice(0, 60));
  }
});
