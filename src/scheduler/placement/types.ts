/**
 * The placement pipeline's vocabulary: what a subtask asks (PlacementRequest), an executor as
 * the pipeline sees it (Candidate), a feasibility filter, a scorer, and the result (Plan).
 */
import type { AcceleratorPreference, AlgInfo, AvailableResource, TotalResource } from '../../protocol/index.ts';
import type { DeviceRow } from '../store.ts';

/** A bounding box (table 4 Longitude/Latitude, decimal degrees) a task's executors must lie in. */
export interface Area { lonMin: number; lonMax: number; latMin: number; latMax: number }

/** What a subtask asks of an executor. */
export interface PlacementRequest {
  algId?: number;
  algType?: string;
  /** Devices that must not be chosen (e.g. the one that just failed). */
  exclude?: Set<string>;
  /** Devices the task itself rules out (Constraints.AvoidDevices; cascade B.3: the site that asked for help). */
  avoid?: readonly string[];
  /** Preferred device for data locality (the camera's own box), M4. */
  nearDeviceId?: string;
  /** Only executors of this DeviceType (0 device, 1 edge, 2 cloud). */
  deviceType?: string;
  /** Scorer set by name (Constraints.Strategy); default `balanced`. */
  strategy?: string;
  /** Memory the subtask needs, bytes (Constraints.MemoryBytes), against AvailableMemory when reported. */
  memoryBytes?: number;
  /** Decode load in 1080P@1FPS units (inputs × TaskFrameRate), against AvailDecodePerf when reported. */
  decodeUnits?: number;
  /** Executors must lie in this box (Constraints Longitude/Latitude Min/Max). */
  area?: Area;
  /** SB2: only `nearDeviceId` may run it (Constraints.DeployOn "input-device"). */
  pinned?: boolean;
  /** An accelerator the subtask needs (Constraints.Accelerator); cpu and any ask nothing. */
  accelerator?: AcceleratorPreference;
  /** GPU memory it needs, MB (Constraints.AcceleratorMemoryMB), against a GPU's reported AvailableMemoryMB. */
  acceleratorMemoryMB?: number;
}

/** An executor seen by the pipeline, with the algorithm it would run. */
export interface Candidate {
  device: DeviceRow;
  alg: AlgInfo;
  /** Active (running, paused, queued) subtasks on it. */
  active: number;
  /** Idle CPU, percent (50 when unreported). */
  availableCpu: number;
  total?: TotalResource;
  available?: AvailableResource;
  /** Placement sequence number of the last subtask placed on it (-1: never), for round robin. */
  lastPlaced?: number;
  /** It lacks the algorithm and would fetch it from the repository (AlgFileURL). */
  download?: boolean;
  /** What placement has charged to a device that its last report does not show yet (asked only by the filters that need it, with this candidate's DeviceID). */
  reserved?: (deviceId: string) => { memoryBytes: number; decodeUnits: number };
}

/** A feasibility filter: null when the candidate can run the subtask, else why not. */
export interface Filter {
  name: string;
  /**
   * Whether it can reject anyone for this request (absent: always). A placement runs only the
   * filters that apply, once per executor it looks at; `check` must pass everyone when this is false.
   */
  applies?(req: PlacementRequest): boolean;
  check(req: PlacementRequest, c: Candidate): string | null;
}

/** A scorer: higher is better, in [0, 1]; `ctx.seq` is the placement sequence number now. */
export interface Scorer {
  name: string;
  /** It reads Candidate.lastPlaced (a lookup per executor, made only for strategies that need it). */
  needsLastPlaced?: boolean;
  score(req: PlacementRequest, c: Candidate, ctx: { seq: number }): number;
}

export interface Rejection { deviceId: string; why: string }

/** Feasible candidates best first, and why the others were dropped. */
export interface Plan {
  ranked: Candidate[];
  rejected: Rejection[];
  /** The ranked executors lack the algorithm: they would fetch the published package. */
  fromRepository: boolean;
}
