/**
 * SB2, updating a deployed task on all its executors at once, across real processes: a task
 * deployed on two executors (Constraints.DeployOn) runs version 1.0.0 of a plugin; `POST
 * /System/TaskUpdate/{TaskID}` moves both to 1.0.1 while they run — same subtasks, results go
 * on, the later ones from the new version. A version nobody has, or arguments the plugin's
 * schema refuses, are refused per executor, and the old version runs on.
 */
import t from 'tap';
import path from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { startCluster, waitFor } from '../helpers/cluster.ts';
import { fixturePackage, testKeys } from '../helpers/plugins.ts';
import { slowSource } from '../helpers/slow-source.ts';
import { retinadPlugin } from '../helpers/entry.ts';
import type { TaskResultBody, TaskUpdateReply } from '../../src/protocol/index.ts';

t.test('SB2: a running deployment moves to a new version on every executor; a refused update leaves the old one running', async (t) => {
  const dir = t.testdir({});
  const keys = path.join(dir, 'keys');
  mkdirSync(keys);
  writeFileSync(path.join(keys, 'tests.pub'), testKeys.publicPem);
  const cluster = await startCluster(dir, 2, { schedulerArgs: ['--trusted-keys', keys], executorArgs: ['--trusted-keys', keys] });
  t.teardown(() => cluster.stop());
  const publish = (version: string) => {
    const file = path.join(dir, `echo-${version}.rpk`);
    writeFileSync(file, fixturePackage('echo', { override: { AlgVersion: version } }));
    return spawnSync(process.execPath, [...retinadPlugin, 'publish', file, '--scheduler', cluster.scheduler.url, '--token', cluster.token], { encoding: 'utf8' });
  };
  t.equal(publish('1.0.0').status, 0, 'echo 1.0.0 published');
  const cams = await Promise.all([0, 1].map((i) => slowSource(path.join(dir, `cam${i}.ts`), 12)));
  t.teardown(() => { for (const c of cams) c.close(); });
  const [a, b] = cluster.executorIds as [string, string];
  const r = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, {
    TaskName: 'echo everywhere', TaskType: 6, Constraints: { DeployOn: 'input-device' },
    InitiationInfo: { DeviceID: 'i', CustomInfo: { AlgID: 9001, TaskFrameRate: 4, AlgArgs: { Gain: 1 }, Inputs: [{ DeviceID: a, StreamURL: cams[0]!.url }, { DeviceID: b, StreamURL: cams[1]!.url }] } },
  });
  const id = (r.body as { TaskID: string }).TaskID;
  t.ok(id, `deployed: ${JSON.stringify(r.body).slice(0, 160)}`);
  const results = async () => ((await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskResult/${id}?limit=500`)).body as { TaskResultList?: TaskResultBody[] }).TaskResultList ?? [];
  const versions = async () => { const m = new Map<string, Set<string>>(); for (const x of await results()) { const s = m.get(x.DeviceID) ?? new Set(); s.add(x.AlgVersion); m.set(x.DeviceID, s); } return m; };
  await waitFor('both executors deliver 1.0.0 results', async () => { const v = await versions(); return v.get(a)?.has('1.0.0') && v.get(b)?.has('1.0.0') ? true : undefined; }, 30_000);

  t.equal(publish('1.0.1').status, 0, 'echo 1.0.1 published');
  const update = async (body: Record<string, unknown>) => (await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskUpdate/${id}`, body)).body as TaskUpdateReply;
  const up = await update({ AlgVersion: '1.0.1', AlgArgs: { Gain: 2 }, MaxParallel: 1 });
  t.equal(up.StatusCode, '0', `updated: ${JSON.stringify(up)}`);
  t.strictSame(up.Results.map((x) => x.StatusCode), ['0', '0'], 'one outcome per executor');
  await waitFor('both executors deliver 1.0.1 results', async () => { const v = await versions(); return v.get(a)?.has('1.0.1') && v.get(b)?.has('1.0.1') ? true : undefined; }, 30_000);
  const info = (await cluster.client.send('GET', `${cluster.scheduler.url}/System/TaskInfo/${id}`)).body as { TaskInfo: { SubtaskInfoList?: Array<{ TaskStatusInfo?: { ExecutionStatus?: number } }> } };
  t.ok(info.TaskInfo.SubtaskInfoList?.every((s) => s.TaskStatusInfo?.ExecutionStatus === 1), 'the same subtasks run on (no new task, no restart from scratch)');

  const missing = await update({ AlgVersion: '9.9.9' });
  t.equal(missing.StatusCode, '1');
  t.match(missing.Results[0]?.Message, /AlgVersion: 9\.9\.9 of AlgID 9001 is neither published here nor installed on/);
  const badArgs = await update({ AlgArgs: { Gain: 99 } });
  t.equal(badArgs.StatusCode, '1', 'the plugin\'s schema refuses Gain 99 on each executor');
  t.match(badArgs.Results[0]?.Message, /InputInfo\.AlgArgs: \/Gain must be <= 10/);
  const before = (await results()).length;
  await waitFor('results go on after the refused updates', async () => ((await results()).length > before + 4 ? true : undefined), 30_000);
  const last = (await results()).slice(-4);
  t.ok(last.every((x) => x.AlgVersion === '1.0.1'), 'still from 1.0.1: a refused update changed nothing');
  t.equal((await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskUpdate/no-such-task`, { AlgVersion: '1.0.1' })).status, 404, 'an unknown task: 404');
  const bad = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskUpdate/${id}`, { MaxParallel: 0 });
  t.equal(bad.status, 400);
  t.match((bad.body as { Message: string }).Message, /^MaxParallel: /, 'a bad body names the field');
});
