/**
 * The executor's built-in algorithms (ER3): frame extraction and transcoding. They and the
 * installed plugin packages are looked up together through the catalogue (catalogue.ts).
 */
import { AlgStatus, TaskType, type AlgInfo } from '../protocol/index.ts';

export interface AlgorithmEntry {
  /** How the executor runs it: sampled frames → JPEG, re-encoded video slices, or upstream results fused. */
  kind: 'frames' | 'transcode' | 'fusion';
  AlgID: number;
  AlgType: string;
  AlgVersion: string;
  TaskType: number;
  Description: string;
  /** When the algorithm became available (AlgDownloadTime). */
  installedAt: string;
}

/** Built-in frame extraction (TaskType 1): sample frames at TaskFrameRate, JPEG at source size. */
export const FRAME_EXTRACTION: Omit<AlgorithmEntry, 'installedAt'> = {
  kind: 'frames',
  AlgID: 1001,
  AlgType: 'frame_extraction',
  AlgVersion: '1.0.0',
  TaskType: TaskType.FrameExtraction,
  Description: 'Samples frames by timestamp at TaskFrameRate and sends each as a JPEG ImageResult',
};

/** Built-in transcoding (TaskType 3): H.264/H.265 at a bitrate and size, cut into MP4 slices (VideoResult). */
export const VIDEO_TRANSCODE: Omit<AlgorithmEntry, 'installedAt'> = {
  kind: 'transcode',
  AlgID: 1003,
  AlgType: 'video_transcode',
  AlgVersion: '1.0.0',
  TaskType: TaskType.VideoImageCodec,
  Description: 'Re-encodes to H.264/H.265 (AlgArgs Codec, BitrateKbps, Width, Height, SliceSeconds) and sends each slice as a VideoResult',
};

/**
 * Built-in fusion (TaskType 10): a stage after several others (Dependencies, no StreamURL) that
 * releases their results grouped by time window, in Ts order per source (runners/fusion.ts).
 */
export const RESULT_FUSION: Omit<AlgorithmEntry, 'installedAt'> = {
  kind: 'fusion',
  AlgID: 1004,
  AlgType: 'result_fusion',
  AlgVersion: '1.0.0',
  TaskType: TaskType.DataFusion,
  Description: 'Fuses the results of its upstream subtasks per time window (AlgArgs WindowMs, MaxDelayMs), ordered by Ts within each source',
};

export class AlgorithmRegistry {
  private readonly entries: AlgorithmEntry[] = [];

  add(e: AlgorithmEntry): void {
    this.entries.push(e);
  }

  /** The entry for an AlgID and version ("" or undefined: any version, newest first). */
  find(algId: number, version?: string): AlgorithmEntry | undefined {
    return this.entries.find((e) => e.AlgID === algId && (!version || e.AlgVersion === version));
  }

  list(): AlgorithmEntry[] {
    return [...this.entries];
  }

  /** Table 14 AlgInfoList; AlgStatus 0 when a task uses the algorithm now, else 1. */
  algInfoList(inUse: (algId: number, version: string) => boolean): AlgInfo[] {
    return this.entries.map((e) => ({
      AlgID: e.AlgID,
      AlgType: e.AlgType,
      AlgVersion: e.AlgVersion,
      AlgStatus: inUse(e.AlgID, e.AlgVersion) ? AlgStatus.InUse : AlgStatus.Unused,
      AlgDownloadTime: e.installedAt,
    }));
  }
}
