/**
 * Ours (EC8, model co-evolution): a standing policy of an inference task, `AlgArgs.CoEvolve`.
 * The standard asks that edge and cloud models evolve together (EC8) but gives the loop no
 * message, so this is the smallest shape that carries it: the task mines hard examples at the
 * edge (`HardExampleThreshold`, DC4); every `Every` new hard examples from one executor, the
 * scheduler has a stronger model (`TeacherAlgID`) on a cloud executor label that executor's hard
 * set, trains the task's own algorithm further on those labels (TaskType 7, from the version it
 * runs), publishes the result when it passes `MinAccuracy` on `ValidationURL`, and moves the
 * running task to it (as `ModelUpdate: "switch"` would). Nobody submits the rounds.
 */
import { DeviceID, Float, Int32, Obj, Opt, StrMax, type Static } from './fields.ts';
import { parse } from './validate.ts';

export const CoEvolve = Obj({
  /** The stronger algorithm whose answers label the hard examples (it must be published or installed). */
  TeacherAlgID: Int32({ minimum: 1 }),
  /** A round per this many new hard examples from one executor. */
  Every: Int32({ minimum: 1, maximum: 100_000 }),
  /** Training epochs per round (default 5). */
  Epochs: Opt(Int32({ minimum: 1, maximum: 200 })),
  /** The accuracy a round's model must reach on ValidationURL to be published. */
  MinAccuracy: Opt(Float({ minimum: 0, maximum: 1 })),
  /** A labelled sample set (RDS1) the training executor checks each round's model on. */
  ValidationURL: Opt(StrMax(256, { minLength: 1 })),
  /** The executor that labels and trains; by default an online cloud executor (DeviceType 2). */
  TeacherDeviceID: Opt(DeviceID()),
});
export type CoEvolve = Static<typeof CoEvolve>;

/** The task's CoEvolve when it has one and it is well-formed, or why not (naming the field and the rule); null when absent. */
export function coEvolveOf(algArgs: Record<string, unknown> | undefined): { ok: true; value: CoEvolve } | { ok: false; message: string } | null {
  const raw = algArgs?.CoEvolve;
  if (raw === undefined) return null;
  const field = 'InitiationInfo.CustomInfo.AlgArgs.CoEvolve';
  const p = parse(CoEvolve, raw);
  if (!p.ok) return { ok: false, message: `${field}: ${p.message}` };
  const t = algArgs?.HardExampleThreshold;
  // Without a threshold the edge keeps no hard examples: the loop would never turn.
  if (typeof t !== 'number' || !(t > 0 && t <= 1)) return { ok: false, message: `${field}: needs AlgArgs.HardExampleThreshold, a number in (0, 1] (the loop learns from hard examples)` };
  if (algArgs?.HardExampleSet !== undefined && (typeof algArgs.HardExampleSet !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(algArgs.HardExampleSet))) {
    return { ok: false, message: `${field}: AlgArgs.HardExampleSet must be 1–64 letters, digits, _ or - (the set the rounds fetch)` };
  }
  return { ok: true, value: p.value };
}
