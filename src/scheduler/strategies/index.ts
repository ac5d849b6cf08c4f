/** The task-order strategies by name, and loading a custom one from a module (M5). */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BUILTIN_TASK_ORDERS } from '../../protocol/index.ts';
import { ageing } from './ageing.ts';
import { roundRobin } from './round-robin.ts';
import { staticPriority } from './static-priority.ts';
import type { TaskOrderStrategy } from './types.ts';

export type { TaskOrderStrategy, WaitingTask } from './types.ts';

export const TASK_ORDER_NAMES = BUILTIN_TASK_ORDERS;

/** A built-in strategy by name, or undefined. */
export function builtinTaskOrder(name: string): TaskOrderStrategy | undefined {
  if (name === 'priority') return staticPriority;
  if (name === 'ageing') return ageing();
  if (name === 'round-robin') return roundRobin();
  return undefined;
}

/**
 * `--task-order`: a built-in name, or the path of an ES module exporting `strategy` (an object
 * with `name` and `next(waiting, now)`). Throws naming the option and the rule when it is neither.
 */
export async function loadTaskOrder(spec: string): Promise<TaskOrderStrategy> {
  const builtin = builtinTaskOrder(spec);
  if (builtin) return builtin;
  if (!/[/\\]|\.m?js$/.test(spec)) throw new Error(`--task-order: "${spec}" is not one of ${TASK_ORDER_NAMES.join(', ')} nor a module path (.js/.mjs)`);
  let mod: { strategy?: unknown };
  try {
    mod = await import(pathToFileURL(path.resolve(spec)).href) as { strategy?: unknown };
  } catch (err) {
    throw new Error(`--task-order: cannot load module ${spec}: ${(err as Error).message}`);
  }
  const s = mod.strategy as Partial<TaskOrderStrategy> | undefined;
  if (!s || typeof s.name !== 'string' || typeof s.next !== 'function') throw new Error(`--task-order: module ${spec} must export \`strategy\` = { name: string, next(waiting, now) }`);
  return s as TaskOrderStrategy;
}
