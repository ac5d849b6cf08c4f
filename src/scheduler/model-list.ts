/**
 * Table 20 AlgModelInfo.ModelList: the models the dispatched algorithm runs, at their versions.
 * The scheduler fills it from what it knows of that exact AlgVersion — the executor's own
 * algorithm_res_query answer (table 15 ModelInfo) or, for an executor that will fetch the
 * package, the published package's manifest — so the executor can refuse a dispatch whose models
 * it does not hold (EB2), e.g. a package rebuilt under the same AlgVersion with another model.
 */
import type { AlgInfo, TaskDispatchInfo } from '../protocol/index.ts';
import type { RepoEntry } from './repository.ts';

type DispatchModels = NonNullable<TaskDispatchInfo['AlgModelInfo']['ModelList']>;

/** The ModelList for a dispatch of `alg`, or undefined when nothing names models. */
export function modelList(alg: AlgInfo, published?: RepoEntry): DispatchModels | undefined {
  const from = alg.ModelList?.length ? alg.ModelList : published?.models;
  if (!from?.length) return undefined;
  return from.map((m) => ({ ModelID: m.ModelID, ModelVersion: m.ModelVersion }));
}
