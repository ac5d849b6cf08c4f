/**
 * B.3 step 4, assisted scheduling of part of a task: which stages of a TaskRequest may be handed
 * to the upper scheduler on their own, and the request that carries them there.
 *
 * A part goes up as a request of its own, so only stages that stand alone can go: a stage that
 * reads its input's stream and feeds no other stage (the Topology's independent, parallel
 * stages). A stage joined to others by results would need results to cross between sites in
 * both directions; such a task goes up whole, as before. A task without stages has one request
 * for every input (one algorithm, one area, one set of Constraints), so either every input can
 * run here or none can: it too goes up whole.
 */
import type { CustomInfo, TaskBasicInfo } from '../../protocol/index.ts';
import { dagStages } from '../orchestration/dag.ts';

/** Whether the stages named in `names` can each run apart from the rest of `custom`'s Topology. */
export function detachable(custom: CustomInfo, names: readonly string[]): boolean {
  if (!custom.Topology || !names.length) return false;
  const stages = dagStages(custom.Topology);
  return names.every((n) => {
    const st = stages.find((x) => x.name === n);
    return st !== undefined && st.after.length === 0 && !stages.some((o) => o.after.includes(n));
  });
}

/**
 * The request for the stages `names` as the upper scheduler sees it: the same inputs, arguments
 * and Constraints, only those stages (each a source stage), the initiator named in Applicant, no
 * NotifyURL (this scheduler tells the initiator), and this site in Constraints.AvoidDevices: it
 * found no executor here for them.
 */
export function partRequest(basic: TaskBasicInfo, custom: CustomInfo, names: readonly string[], selfId: string, applicant: string | undefined): TaskBasicInfo {
  const stages = custom.Topology!.Stages.filter((s) => names.includes(s.Name)).map((s) => ({ ...s, After: [] }));
  const part: Record<string, unknown> = { ...custom, Topology: { Stages: stages } };
  delete part.NotifyURL;
  return avoiding({ ...basic, InitiationInfo: { ...basic.InitiationInfo, ...(applicant !== undefined ? { Applicant: applicant } : {}), CustomInfo: part } }, selfId);
}

/** `basic` with `selfId` added to Constraints.AvoidDevices (once): what a lower scheduler hands up, it could not place itself. */
export function avoiding(basic: TaskBasicInfo, selfId: string): TaskBasicInfo {
  const avoid = basic.Constraints?.AvoidDevices;
  const avoided = Array.isArray(avoid) ? avoid.filter((x): x is string => typeof x === 'string') : [];
  return { ...basic, Constraints: { ...(basic.Constraints ?? {}), AvoidDevices: [...new Set([...avoided, selfId])] } };
}
