/**
 * The demo's three tasks, each a `POST /System/TaskRequest/` followed by TaskInfo polling and a
 * TaskResult read — only the standard's HTTP interfaces, so the demo works on any decode backend.
 */
import { pathToFileURL } from 'node:url';
import type { RetinaClient } from '../net/client.ts';
import { ExecutionStatus, type TaskInfo, type TaskResultBody } from '../protocol/index.ts';

export type DemoTaskKey = 'frames' | 'text' | 'motion';

export interface DemoTaskSpec {
  key: DemoTaskKey;
  title: string;
  request: Record<string, unknown>;
}

/** A box in frame pixels, as the plugins report them (the host maps tensor boxes to the frame). */
export interface Box { x: number; y: number; w: number; h: number; Text?: string; Score?: number }

export interface TaskRun {
  spec: DemoTaskSpec;
  taskId: string;
  submittedAt: number;
  doneAt: number;
  info: TaskInfo;
  results: TaskResultBody[];
}

export const STATUS_NAME: Record<number, string> = { 0: 'done', 1: 'running', 2: 'paused', 3: 'queued', 4: 'error' };

/**
 * (1) frames at 1 fps for the page; (2) text recognition split across two executors: detection
 * on the camera's device, recognition of the crops on the edge (a Topology); (3) motion at 5 fps.
 * OCR samples 1 fps: PP-OCRv4 detection is the costly step and 1 fps still sees every sign.
 */
export function demoTasks(clips: string[]): DemoTaskSpec[] {
  const Inputs = clips.map((c) => ({ StreamURL: pathToFileURL(c).href }));
  const info = (custom: Record<string, unknown>) => ({ DeviceID: 'demo-initiator', CustomInfo: { Inputs, ...custom } });
  return [
    { key: 'frames', title: 'frame extraction', request: { TaskName: 'demo: frames', TaskType: 1, Priority: 5, InitiationInfo: info({ AlgType: 'frame_extraction', TaskFrameRate: 1 }) } },
    { key: 'text', title: 'text recognition (detect → recognize)', request: { TaskName: 'demo: read the signs', TaskType: 8, Priority: 5, InitiationInfo: info({
      TaskFrameRate: 1,
      Topology: { Stages: [
        { Name: 'detect', AlgType: 'text_recognition', AlgArgs: { Stage: 'detect' }, DeviceType: '0' },
        { Name: 'recognize', AlgType: 'text_recognition', AlgArgs: { Stage: 'recognize' }, DeviceType: '1' },
      ] },
    }) } },
    { key: 'motion', title: 'motion detection', request: { TaskName: 'demo: motion', TaskType: 6, Priority: 5, InitiationInfo: info({ AlgType: 'motion_detection', TaskFrameRate: 5 }) } },
  ];
}

/** Submits one task; throws with the scheduler's message when refused. */
export async function submit(client: RetinaClient, schedulerUrl: string, spec: DemoTaskSpec): Promise<{ taskId: string; submittedAt: number }> {
  const submittedAt = Date.now();
  const r = await client.send('POST', `${schedulerUrl}/System/TaskRequest/`, spec.request);
  const b = r.body as { StatusCode?: string; TaskID?: string; Message?: string };
  if (b.StatusCode !== '0' || !b.TaskID) throw new Error(`${spec.title}: TaskRequest refused: ${b.Message ?? JSON.stringify(b)}`);
  return { taskId: b.TaskID, submittedAt };
}

/** Polls TaskInfo until done or error (or the deadline); `onChange` sees each new status line. */
export async function waitEnd(client: RetinaClient, schedulerUrl: string, taskId: string, deadline: number, onChange: (info: TaskInfo) => void): Promise<TaskInfo> {
  let last = '';
  for (;;) {
    const r = await client.send('GET', `${schedulerUrl}/System/TaskInfo/${taskId}`);
    const info = (r.body as { TaskInfo?: TaskInfo }).TaskInfo;
    if (info) {
      const key = JSON.stringify([info.ExecutionStatus, info.SubtaskInfoList?.map((s) => [s.TaskExecutor.DeviceID, s.TaskStatusInfo.ExecutionStatus])]);
      if (key !== last) { last = key; onChange(info); }
      if (info.ExecutionStatus === ExecutionStatus.Done || info.ExecutionStatus === ExecutionStatus.Error) return info;
    }
    if (Date.now() > deadline) throw new Error(`task ${taskId} did not finish in time (last: ${info ? STATUS_NAME[info.ExecutionStatus] : 'no TaskInfo'})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Every stored result of a task, page by page. */
export async function readResults(client: RetinaClient, schedulerUrl: string, taskId: string): Promise<TaskResultBody[]> {
  const out: TaskResultBody[] = [];
  for (let after = '0'; ;) {
    const r = await client.send('GET', `${schedulerUrl}/System/TaskResult/${taskId}?after=${after}&limit=200`);
    const page = r.body as { TaskResultList?: TaskResultBody[]; Next?: string };
    out.push(...(page.TaskResultList ?? []));
    if (!page.Next) return out;
    after = page.Next;
  }
}

/** The first AnalysisResult's ResultData of a result (the plugins report one each). */
export function resultData(r: TaskResultBody): { Pts?: number; Boxes?: Box[]; Motion?: boolean; ChangedRatio?: number; FrameWidth?: number; FrameHeight?: number } {
  return (r.TaskResultData.AnalysisResult?.[0]?.ResultData ?? {}) as ReturnType<typeof resultData>;
}
