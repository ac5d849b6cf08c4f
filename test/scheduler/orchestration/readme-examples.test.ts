/** M2, SB10: the README's TaskRequest examples for each DAG shape and the failure policy are valid CustomInfo the planner accepts. */
import t from 'tap';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { CustomInfo, parse, type TopologySpec } from '../../../src/protocol/index.ts';
import { topologyProblem } from '../../../src/scheduler/orchestration/dag.ts';

const readme = readFileSync(path.resolve(import.meta.dirname, '..', '..', '..', 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => /"(Topology|FailurePolicy)"/.test(b));

t.test('M2, SB10: every README example with a Topology or FailurePolicy validates and plans', async (t) => {
  t.ok(blocks.length >= 5, `${blocks.length} examples`);
  for (const b of blocks) {
    const j = JSON.parse(b.trim().startsWith('{') ? b : `{${b}}`) as Record<string, unknown>;
    const custom = ((j.InitiationInfo as { CustomInfo?: Record<string, unknown> } | undefined)?.CustomInfo ?? j.CustomInfo ?? j) as Record<string, unknown>;
    const ci = parse(CustomInfo, { Inputs: [{ StreamURL: 'rtsp://10.0.0.1/s' }], ...custom });
    t.ok(ci.ok, ci.ok ? 'valid CustomInfo' : ci.message);
    if (custom.Topology) t.equal(topologyProblem(custom.Topology as TopologySpec), null, b.slice(0, 60));
  }
});
