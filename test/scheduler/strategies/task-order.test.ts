/** M3, SB3, M5: task-order strategies — static priority, dynamic priority with ageing, round robin, and a custom one loaded from a module. */
import t from 'tap';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { builtinTaskOrder, loadTaskOrder, type WaitingTask } from '../../../src/scheduler/strategies/index.ts';
import { ageing } from '../../../src/scheduler/strategies/ageing.ts';

const w = (taskId: string, priority: number, queuedAt: number, owner: string | null = null, taskType?: number): WaitingTask => ({ taskId, priority, queuedAt, owner, ...(taskType !== undefined ? { taskType } : {}) });

t.test('SB3: static priority — highest first, then the longest waiting', async (t) => {
  const s = builtinTaskOrder('priority')!;
  t.equal(s.next([w('a', 3, 0), w('b', 7, 5), w('c', 7, 2)], 10).taskId, 'c');
});

t.test('SB3: dynamic priority with ageing — a low-priority task overtakes once it has waited long enough', async (t) => {
  const s = ageing(60_000);
  const waiting = [w('old-low', 2, 0), w('new-high', 6, 230_000)];
  t.equal(s.next(waiting, 239_000).taskId, 'new-high', 'after 3 min 59 s: 2 + 3 < 6');
  t.equal(s.next(waiting, 360_000).taskId, 'old-low', 'after 6 min: 2 + 6 = 6 + 2, a tie it wins by waiting longer (static priority never would)');
  t.equal(builtinTaskOrder('priority')!.next(waiting, 300_000).taskId, 'new-high', 'static priority would starve it');
});

t.test('M3: round robin — initiators take turns whatever their batch sizes', async (t) => {
  const s = builtinTaskOrder('round-robin')!;
  let waiting = [w('a1', 5, 0, 'a'), w('a2', 5, 1, 'a'), w('a3', 5, 2, 'a'), w('b1', 5, 3, 'b')];
  const order: string[] = [];
  while (waiting.length) { const n = s.next(waiting, 10); order.push(n.taskId); waiting = waiting.filter((x) => x !== n); }
  t.strictSame(order, ['a1', 'b1', 'a2', 'a3']);
});

t.test('M5: a custom strategy loads from a module (the documented example); bad ones are refused naming the option and the rule', async (t) => {
  const example = await loadTaskOrder(path.resolve(import.meta.dirname, '..', '..', '..', 'docs', 'examples', 'task-order-fusion-first.mjs'));
  t.equal(example.name, 'fusion-first');
  t.equal(example.next([w('infer', 9, 0, null, 8), w('fuse', 1, 5, null, 10)], 10).taskId, 'fuse', 'data fusion first');
  await t.rejects(loadTaskOrder('fastest'), /--task-order: "fastest" is not one of priority, ageing, round-robin nor a module path/);
  const dir = t.testdir({});
  const bad = path.join(dir, 'bad.mjs');
  writeFileSync(bad, 'export const strategy = { name: 1 };\n');
  await t.rejects(loadTaskOrder(bad), /must export `strategy` = \{ name: string, next\(waiting, now\) \}/);
  await t.rejects(loadTaskOrder(path.join(dir, 'missing.mjs')), /--task-order: cannot load module/);
});
