/**
 * A task's placement wishes, read from TaskBasicInfo.Constraints (a free JSON object in table
 * 17): `Strategy` (a scorer set), `MemoryBytes` (per subtask), `Accelerator` and
 * `AcceleratorMemoryMB` (an accelerator the subtask needs, and its GPU memory), a bounding box with the
 * field names of tables 2/5 (`LongitudeMin`, `LongitudeMax`, `LatitudeMin`, `LatitudeMax`), and
 * `DeployOn: "input-device"` (SB2, batch deployment: each input runs on the executor its
 * `Inputs[i].DeviceID` names — one TaskRequest deploys the algorithm on many executors), and
 * `AvoidDevices` (DeviceIDs the task must not run on; a lower scheduler asking for help with part
 * of a task names itself, cascade B.3).
 * Decode load comes from the task itself: one input × TaskFrameRate per subtask.
 */
import { ACCELERATOR_PREFERENCES, type AcceleratorPreference, type CustomInfo } from '../../protocol/index.ts';
import { STRATEGY_NAMES } from './strategies.ts';
import type { Area, PlacementRequest } from './types.ts';

export type PlacementWishes = Pick<PlacementRequest, 'strategy' | 'memoryBytes' | 'decodeUnits' | 'area' | 'pinned' | 'accelerator' | 'acceleratorMemoryMB' | 'avoid'>;

/** The values Constraints.DeployOn takes. */
export const DEPLOY_ON = ['input-device'] as const;
/** Most DeviceIDs Constraints.AvoidDevices may name (a request is bounded; a site names itself). */
export const AVOID_DEVICES_MAX = 64;
/** Table 4's DeviceID: at most 20 bytes. */
const DEVICE_ID_MAX_BYTES = 20;

/** The wishes, or a message naming the field, its problem and what is allowed. */
export function placementWishes(constraints: Record<string, unknown> | undefined, custom: CustomInfo): { ok: true; value: PlacementWishes } | { ok: false; message: string } {
  const out: PlacementWishes = {};
  // Frame rate only for a decoding subtask; the default sampling is 1 frame/s.
  out.decodeUnits = custom.TaskFrameRate ?? 1;
  if (!constraints) return { ok: true, value: out };
  const s = constraints.Strategy;
  if (s !== undefined) {
    if (typeof s !== 'string' || !STRATEGY_NAMES.includes(s)) return { ok: false, message: `Constraints.Strategy: ${JSON.stringify(s)} is not a strategy; use one of ${STRATEGY_NAMES.join(', ')}` };
    out.strategy = s;
  }
  const m = constraints.MemoryBytes;
  if (m !== undefined) {
    if (typeof m !== 'number' || !Number.isFinite(m) || m < 0) return { ok: false, message: 'Constraints.MemoryBytes: must be a number of bytes ≥ 0' };
    out.memoryBytes = m;
  }
  const on = constraints.DeployOn;
  if (on !== undefined) {
    if (!DEPLOY_ON.includes(on as (typeof DEPLOY_ON)[number])) return { ok: false, message: `Constraints.DeployOn: ${JSON.stringify(on)} is not a deployment; use "input-device" (each input on the executor its Inputs[i].DeviceID names)` };
    const missing = custom.Inputs.findIndex((x) => !x.DeviceID);
    if (missing >= 0) return { ok: false, message: `InitiationInfo.CustomInfo.Inputs[${missing}].DeviceID: is required with Constraints.DeployOn "input-device" (the executor it runs on)` };
    out.pinned = true;
  }
  const a = constraints.Accelerator;
  if (a !== undefined) {
    if (typeof a !== 'string' || !(ACCELERATOR_PREFERENCES as readonly string[]).includes(a)) return { ok: false, message: `Constraints.Accelerator: ${JSON.stringify(a)} is not an accelerator; use one of ${ACCELERATOR_PREFERENCES.join(', ')}` };
    out.accelerator = a as AcceleratorPreference;
  }
  const am = constraints.AcceleratorMemoryMB;
  if (am !== undefined) {
    if (typeof am !== 'number' || !Number.isInteger(am) || am < 0) return { ok: false, message: 'Constraints.AcceleratorMemoryMB: must be a whole number of MB ≥ 0' };
    out.acceleratorMemoryMB = am;
  }
  const avoid = constraints.AvoidDevices;
  if (avoid !== undefined) {
    const bad = !Array.isArray(avoid) || avoid.length > AVOID_DEVICES_MAX
      || avoid.some((x) => typeof x !== 'string' || !x || Buffer.byteLength(x) > DEVICE_ID_MAX_BYTES);
    if (bad) return { ok: false, message: `Constraints.AvoidDevices: must be a list of at most ${AVOID_DEVICES_MAX} DeviceIDs (each 1–${DEVICE_ID_MAX_BYTES} bytes)` };
    out.avoid = avoid as string[];
  }
  const names = ['LongitudeMin', 'LongitudeMax', 'LatitudeMin', 'LatitudeMax'] as const;
  if (names.some((n) => constraints[n] !== undefined)) {
    const v: number[] = [];
    for (const n of names) {
      const x = constraints[n];
      const num = typeof x === 'string' || typeof x === 'number' ? Number(x) : NaN;
      const lim = n.startsWith('Lon') ? 180 : 90;
      if (x === undefined || Number.isNaN(num) || Math.abs(num) > lim) return { ok: false, message: `Constraints.${n}: an area needs all four of ${names.join(', ')}, each in degrees within ±${lim}` };
      v.push(num);
    }
    const [lonMin, lonMax, latMin, latMax] = v as [number, number, number, number];
    if (lonMin > lonMax || latMin > latMax) return { ok: false, message: 'Constraints: LongitudeMin/LatitudeMin must not exceed LongitudeMax/LatitudeMax' };
    out.area = { lonMin, lonMax, latMin, latMax } satisfies Area;
  }
  return { ok: true, value: out };
}
