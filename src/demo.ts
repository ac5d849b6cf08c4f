/**
 * `retinad demo` (what `npm start` runs): a scheduler and two executors as real processes on
 * loopback, a frame-extraction TaskRequest over HTTP, progress, and the frames written to disk.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startRole, type RoleProcess } from './child-role.ts';
import { RetinaClient } from './api/client.ts';
import { ffmpegPath } from './runtime/ffmpeg-binary.ts';
import { ExecutionStatus, imageInfoPts, type TaskInfo, type TaskResultBody } from './protocol/index.ts';

export interface DemoOptions {
  clip?: string;
  out?: string;
  /** Print nothing but errors (tests). */
  quiet?: boolean;
}

const STATUS_NAME: Record<number, string> = { 0: 'done', 1: 'running', 2: 'paused', 3: 'queued', 4: 'error' };

/** Makes a short 640×360 test clip with the bundled ffmpeg. */
export function makeSampleClip(file: string, pattern = 'testsrc', seconds = 10, size = '640x360'): void {
  const r = spawnSync(ffmpegPath(), ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `${pattern}=size=${size}:rate=25`,
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffmpeg could not make the sample clip: ${r.stderr || r.error?.message}`);
}

export async function runDemo(o: DemoOptions): Promise<number> {
  const say = (s: string) => { if (!o.quiet) process.stdout.write(s + '\n'); };
  const out = path.resolve(o.out ?? 'demo-output');
  rmSync(path.join(out, 'frames'), { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const t0 = Date.now();
  const clips: string[] = [];
  if (o.clip) {
    if (!existsSync(o.clip)) { process.stderr.write(`retinad demo: --clip: no such file ${o.clip}\n`); return 2; }
    clips.push(path.resolve(o.clip));
  } else {
    for (const p of ['testsrc', 'testsrc2']) {
      const f = path.join(out, `sample-${p}.mp4`);
      if (!existsSync(f)) makeSampleClip(f, p);
      clips.push(f);
    }
    say(`made two 10 s 640x360 sample clips in ${out}`);
  }

  const token = randomBytes(16).toString('hex');
  // The executors' decode self-benchmark would compete with the demo task for the CPU.
  const env = { RETINAD_TOKEN: token, RETINAD_SKIP_SELF_BENCH: process.env.RETINAD_SKIP_SELF_BENCH ?? '1' };
  const roles: RoleProcess[] = [];
  // Executors first, so they can log out of a scheduler that is still there.
  const cleanup = async () => {
    await Promise.all(roles.slice(1).map((r) => r.stop(3000)));
    await roles[0]?.stop(3000);
  };
  const onSignal = () => { void cleanup().then(() => process.exit(130)); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const client = new RetinaClient({ token, senderId: 'demo-initiator' });
  try {
    const sched = await startRole(['scheduler', '--listen', '127.0.0.1:0', '--data-dir', path.join(out, 'scheduler'), '--keepalive', '2'],
      { env, logFile: path.join(out, 'scheduler.log') });
    roles.push(sched);
    say(`scheduler   ${sched.url}  (pid ${sched.child.pid})`);
    for (const id of ['demo-edge-1', 'demo-edge-2']) {
      const ex = await startRole(['executor', '--listen', '127.0.0.1:0', '--device-id', id, '--data-dir', path.join(out, id), '--scheduler', sched.url],
        { env, logFile: path.join(out, `${id}.log`) });
      roles.push(ex);
      say(`executor    ${ex.url}  ${id} (pid ${ex.child.pid})`);
    }
    // Wait until both executors are registered and their algorithms known.
    for (let i = 0; ; i++) {
      const r = await client.send('GET', `${sched.url}/System/DeviceList`);
      const list = (r.body as { DeviceList?: Array<{ Online: boolean; AlgInfoList: unknown[] }> }).DeviceList ?? [];
      if (list.filter((d) => d.Online && d.AlgInfoList.length).length >= 2) break;
      if (i > 100) throw new Error('executors did not register within 10 s');
      await new Promise((r) => setTimeout(r, 100));
    }

    const request = {
      TaskType: 1, TaskName: 'demo frame extraction', Priority: 5,
      InitiationInfo: {
        DeviceID: 'demo-initiator',
        CustomInfo: { Inputs: clips.map((c) => ({ StreamURL: pathToFileURL(c).href })), AlgType: 'frame_extraction', TaskFrameRate: 2 },
      },
    };
    const sub = await client.send('POST', `${sched.url}/System/TaskRequest/`, request);
    const accepted = sub.body as { StatusCode: string; TaskID?: string; Message?: string };
    if (accepted.StatusCode !== '0' || !accepted.TaskID) throw new Error(`TaskRequest refused: ${accepted.Message}`);
    const taskId = accepted.TaskID;
    say(`TaskRequest accepted: TaskID ${taskId}`);

    let info: TaskInfo | undefined;
    let last = '';
    for (const deadline = Date.now() + 50_000; ;) {
      const r = await client.send('GET', `${sched.url}/System/TaskInfo/${taskId}`);
      info = (r.body as { TaskInfo?: TaskInfo }).TaskInfo;
      const line = info
        ? `  ${STATUS_NAME[info.ExecutionStatus]}: ` + (info.SubtaskInfoList ?? []).map((s) => `${s.TaskExecutor.DeviceID} ${STATUS_NAME[s.TaskStatusInfo.ExecutionStatus]}`).join(', ')
        : '  (no TaskInfo yet)';
      if (line !== last) { say(line); last = line; }
      if (info && (info.ExecutionStatus === ExecutionStatus.Done || info.ExecutionStatus === ExecutionStatus.Error)) break;
      if (Date.now() > deadline) throw new Error('task did not finish within 50 s');
      await new Promise((r) => setTimeout(r, 200));
    }

    // Read every result back through the standard interface and write the frames out.
    const results: TaskResultBody[] = [];
    for (let after = '0'; ;) {
      const r = await client.send('GET', `${sched.url}/System/TaskResult/${taskId}?after=${after}&limit=200`);
      const page = r.body as { TaskResultList: TaskResultBody[]; Next?: string };
      results.push(...page.TaskResultList);
      if (!page.Next) break;
      after = page.Next;
    }
    const byDevice = new Map<string, number>();
    for (const [i, res] of results.entries()) {
      const dir = path.join(out, 'frames', res.TaskID);
      mkdirSync(dir, { recursive: true });
      const data = res.TaskResultData.ImageResult?.ImageData;
      if (data) writeFileSync(path.join(dir, `${String(i).padStart(4, '0')}-pts${imageInfoPts(res.TaskResultData.ImageResult?.ImageInfo) ?? 0}.jpg`), Buffer.from(data, 'base64'));
      byDevice.set(res.DeviceID, (byDevice.get(res.DeviceID) ?? 0) + 1);
    }
    const ok = info!.ExecutionStatus === ExecutionStatus.Done;
    say('');
    say(`task ${STATUS_NAME[info!.ExecutionStatus]} in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${results.length} frames ` +
      `(${[...byDevice].map(([d, n]) => `${n} from ${d}`).join(', ')})`);
    if (!ok) say(`  failure: ${JSON.stringify(info!.SubtaskInfoList?.map((s) => s.TaskStatusInfo))}`);
    say(`frames:  ${path.join(out, 'frames')}`);
    say(`logs:    ${out}/*.log`);
    return ok && results.length > 0 ? 0 : 1;
  } catch (err) {
    process.stderr.write(`retinad demo: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await client.close();
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
