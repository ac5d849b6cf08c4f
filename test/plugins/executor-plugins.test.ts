/**
 * Plugins through the standard's interfaces on one executor: task_dispatch names a package by
 * AlgFileURL, the executor downloads, verifies and trial-runs it, runs the task's frames
 * through it, and sends AnalysisResults (EB1, EB2, ER3, SM3). A hostile plugin costs only its
 * own frames (ExceptionCode 50) while another task keeps going.
 */
import t from 'tap';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';
import { RetinaClient } from '../../src/net/client.ts';
import { parse, AlgorithmResQueryReply } from '../../src/protocol/index.ts';
import { clip } from '../helpers/media.ts';
import { waitFor } from '../helpers/cluster.ts';
import { fixturePackage, testKeys } from '../helpers/plugins.ts';
import { startExecutor, startPeer } from '../helpers/nodes.ts';
import { defined } from '../helpers/defined.ts';

const root = path.resolve(import.meta.dirname, '..', '..');

t.test('motion detection and a hostile plugin, dispatched by AlgFileURL (9.6, EB2, B1)', async (t) => {
  const dir = t.testdir({});
  const b = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-plugins.mjs')], { encoding: 'utf8' });
  t.equal(b.status, 0, `example plugins built ${b.stderr}`);
  const trapRpk = path.join(dir, 'trap.rpk');
  writeFileSync(trapRpk, fixturePackage('trap'));
  const video = clip(path.join(dir, 'moving.mp4'), { size: '640x360', seconds: 4 });
  const peer = await startPeer();
  const got = peer.received;
  const { ex, url, close } = await startExecutor(dir, 'edge-p', { trust: [testKeys.publicPem] });
  const client = new RetinaClient({ senderId: 'sched' });
  t.teardown(async () => { await close(); await client.close(); peer.close(); });
  const dst = [{ DeviceID: 'peer', OutputURL: peer.url }];
  const dispatch = (id: string, alg: Record<string, unknown>, args: Record<string, unknown> = {}) => client.command(url, { CommandType: 'task_dispatch', DeviceID: 'edge-p', MessageBody: { TaskDispatchList: [{
    TaskID: id, TaskAttr: 0, AlgModelInfo: alg, InputInfo: { StreamURL: pathToFileURL(video).href, TaskFrameRate: 5, AlgArgs: args }, DstDeviceList: dst }] } });

  const motionUrl = pathToFileURL(path.join(root, 'plugins-sdk', 'examples', 'build', 'motion_detection-1.0.0.rpk')).href;
  const badArgs = await dispatch('m-bad', { AlgID: 2006, AlgVersion: '1.0.0', AlgFileURL: motionUrl }, { Threshold: 'high' });
  t.equal(badArgs.StatusCode, '1');
  t.match(badArgs.Message ?? '', /InputInfo\.AlgArgs: \/Threshold must be integer/, 'installed from AlgFileURL, then AlgArgs checked against the plugin schema');
  const algs = parse(AlgorithmResQueryReply, await client.command(url, { CommandType: 'algorithm_res_query', MessageBody: {} }));
  t.ok(algs.ok && algs.value.AlgResourceList[0]?.AlgInfoList.some((a) => a.AlgType === 'motion_detection' && a.AlgStatus === 1), 'ER3: the package is listed');

  t.equal((await dispatch('m-1', { AlgID: 2006, AlgVersion: '1.0.0' }, { Threshold: 20 })).StatusCode, '0');
  t.equal((await dispatch('h-1', { AlgID: 9103, AlgVersion: '1.0.0', AlgFileURL: pathToFileURL(trapRpk).href }, { Always: 1 })).StatusCode, '0');
  await waitFor('both tasks to end', async () => (ex.taskStatus('m-1')?.ExecutionStatus === 0 && [0, 4].includes(ex.taskStatus('h-1')?.ExecutionStatus ?? -1) ? true : undefined), 60_000);
  const hostile = ex.taskStatus('h-1')!;
  t.equal(hostile.ExecutionStatus, 4, 'the trapping plugin task ends in error');
  t.equal(hostile.ExceptionCode, 50, 'ExceptionCode 50 (run error)');
  t.match(hostile.ExceptionDesc ?? '', /every one of \d+ frames failed in the algorithm/);
  await waitFor('motion results', async () => (got.filter((g) => g.TaskID === 'm-1').length >= 19 ? true : undefined), 10_000);
  const motion = got.filter((g) => g.TaskID === 'm-1');
  t.ok(motion.length >= 19 && motion.length <= 21, `about 20 results from 4 s at 5 fps (${motion.length})`);
  const data = motion.map((g) => ((g.TaskResultData as { AnalysisResult: Array<{ Type: number; ResultData: { Motion: boolean; Boxes: Array<{ x: number; y: number; w: number; h: number }>; FrameWidth: number } }> }).AnalysisResult[0]));
  t.equal(data[0]?.Type, 4, 'scene-level result');
  const moving = data.filter((d) => d?.ResultData.Motion);
  t.ok(moving.length >= motion.length - 2, `the moving test pattern is detected in ${moving.length}/${motion.length} frames`);
  const box = defined(moving[0]?.ResultData.Boxes[0], 'a box in the first moving frame');
  t.ok(box.x >= 0 && box.x + box.w <= 640 && box.w > 0, `boxes mapped to frame pixels (${JSON.stringify(box)})`);
  t.equal(moving[0]?.ResultData.FrameWidth, 640);
});

t.test('M2: a finished stage dispatched again with ReplayFromMs sends its delivered results to the new destination, without running again', async (t) => {
  const dir = t.testdir({});
  t.equal(spawnSync(process.execPath, [path.join(root, 'scripts', 'build-plugins.mjs')]).status, 0);
  const video = clip(path.join(dir, 'moving.mp4'), { size: '320x240', seconds: 2 });
  const oldPeer = await startPeer();
  const newPeer = await startPeer();
  const { ex, url, close } = await startExecutor(dir, 'edge-r');
  const client = new RetinaClient({ senderId: 'sched' });
  t.teardown(async () => { await close(); await client.close(); oldPeer.close(); newPeer.close(); });
  const motionUrl = pathToFileURL(path.join(root, 'plugins-sdk', 'examples', 'build', 'motion_detection-1.0.0.rpk')).href;
  const info = (dst: string, args: Record<string, unknown> = {}) => ({ TaskID: 'stage-1', TaskAttr: 0, AlgModelInfo: { AlgID: 2006, AlgVersion: '1.0.0', AlgFileURL: motionUrl },
    InputInfo: { StreamURL: pathToFileURL(video).href, TaskFrameRate: 5, AlgArgs: { Threshold: 20, ...args } }, DstDeviceList: [{ DeviceID: 'next', OutputURL: dst }] });
  t.equal((await client.command(url, { CommandType: 'task_dispatch', DeviceID: 'edge-r', MessageBody: { TaskDispatchList: [info(oldPeer.url)] } })).StatusCode, '0');
  await waitFor('the stage to finish', async () => (ex.taskStatus('stage-1')?.ExecutionStatus === 0 ? true : undefined), 30_000);
  const delivered = oldPeer.received.map((b) => ((b.TaskResultData as { AnalysisResult: Array<{ ResultData: { Pts: number } }> }).AnalysisResult[0]?.ResultData.Pts));
  t.ok(delivered.length >= 9, `${delivered.length} results delivered (and acknowledged) to the old next stage`);
  const frames = (ex.taskStatus('stage-1')!.ResourcesOccupied as { FramesOut: number }).FramesOut;

  // The next stage died having passed on only the first frames: send again from the fourth one.
  const from = delivered[3];
  const reply = await client.command(url, { CommandType: 'task_dispatch', DeviceID: 'edge-r', MessageBody: { TaskDispatchList: [info(newPeer.url, { ReplayFromMs: from })] } });
  t.equal(reply.StatusCode, '0', `accepted: ${reply.Message ?? ''}`);
  const replayed = newPeer.received.map((b) => ((b.TaskResultData as { AnalysisResult: Array<{ ResultData: { Pts: number } }> }).AnalysisResult[0]?.ResultData.Pts));
  t.strictSame(replayed, delivered.slice(3), 'the reply comes once the new stage has every result from that frame on, in order');
  t.equal(ex.taskStatus('stage-1')!.ExecutionStatus, 0, 'still done');
  t.equal((ex.taskStatus('stage-1')!.ResourcesOccupied as { FramesOut: number }).FramesOut, frames, 'not run again');

  const other = await client.command(url, { CommandType: 'task_dispatch', DeviceID: 'edge-r', MessageBody: { TaskDispatchList: [info(newPeer.url)] } });
  t.equal(other.StatusCode, '0', 'without ReplayFromMs a finished TaskID is a new run, as before');
});
