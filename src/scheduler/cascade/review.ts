/**
 * B.3 step 3: the upper scheduler's review of a request a lower scheduler forwards for approval
 * (`POST /System/Cascade/TaskReview`, a path this project adds: the standard names the step, not
 * its interface). The lower scheduler checked the format and its own initiator; here the
 * request is judged against this level's rules: CustomInfo must be one this project runs, its
 * Constraints valid, and, when this scheduler has initiators configured, the initiator the
 * request names in InitiationInfo.Applicant must be one of them and its policy must allow the
 * request's sources and algorithms. Returns null when approved, else why not.
 */
import { CustomInfo, parse, type TaskBasicInfo } from '../../protocol/index.ts';
import { placementWishes } from '../placement/index.ts';
import { reviewInitiator, type Initiators } from '../initiators.ts';

export function reviewFromBelow(basic: TaskBasicInfo, initiators: Initiators | undefined): string | null {
  const ci = parse(CustomInfo, basic.InitiationInfo.CustomInfo ?? {});
  if (!ci.ok) return `InitiationInfo.CustomInfo: ${ci.message}`;
  const w = placementWishes(basic.Constraints, ci.value);
  if (!w.ok) return w.message;
  if (!initiators?.size) return null;
  const name = basic.InitiationInfo.Applicant;
  if (name === undefined) return 'InitiationInfo.Applicant: must name the initiator (this level reviews initiators by name)';
  const policy = initiators.policyOf(name);
  if (!policy) return `InitiationInfo.Applicant: "${name}" is not an initiator of this level`;
  return reviewInitiator(name, policy, ci.value);
}
