/**
 * Identities with scopes (issue 10 item 2), replayed as the attacks the review made against a
 * real scheduler and executor process, from outside, over HTTP.
 *
 * Before: any session token worked on every route — an executor's session could submit and stop
 * tasks, read every result, UnRegister or report for other devices, PATCH another device's
 * subtask to Error, and send task_results for others' subtasks (which also filled the
 * de-duplication table under any X-Sender-ID it chose). Now three principals: the node token;
 * device sessions, acting only as their own DeviceID and only on subtasks they run; initiators
 * from `--initiators FILE`, limited by their policy (sources, algorithms, publishing) to their own
 * tasks.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import fc from 'fast-check';
import { startCluster, waitFor, waitTaskEnd } from '../helpers/cluster.ts';
import { clip } from '../helpers/media.ts';
import { RetinaClient } from '../../src/net/client.ts';
import { Initiators, reviewInitiator } from '../../src/scheduler/initiators.ts';
import type { TaskInfo } from '../../src/protocol/index.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const status = (r: { status: number; body: unknown }) => `${r.status} ${JSON.stringify(r.body).slice(0, 160)}`;

t.test('issue 10 item 2: device sessions act only as themselves; initiators only within their policy and on their own tasks', async (t) => {
  const dir = t.testdir({ media: {} });
  const media = path.join(dir, 'media');
  const video = clip(path.join(media, 'v.mp4'), { seconds: 3 });
  const outside = clip(path.join(dir, 'elsewhere.mp4'), { seconds: 1 });
  const initiators = path.join(dir, 'initiators.yaml');
  writeFileSync(initiators, [
    'Initiators:',
    `  - { Name: alice, TokenSha256: ${sha('alice-token')}, Sources: ["${pathToFileURL(media).href}/"], AlgTypes: [frame_extraction] }`,
    `  - { Name: bob, TokenSha256: ${sha('bob-token')}, Sources: ["*"], Publish: true }`,
  ].join('\n'));
  const c = await startCluster(path.join(dir, 'c'), 1, { schedulerArgs: ['--initiators', initiators] });
  const alice = new RetinaClient({ token: 'alice-token', senderId: 'alice' });
  const bob = new RetinaClient({ token: 'bob-token', senderId: 'bob' });
  // Mallory holds one session token: she registered a device of her own (or stole its session).
  const mallory = new RetinaClient({ senderId: 'edge-1/forged' });
  t.teardown(async () => { await Promise.all([alice.close(), bob.close(), mallory.close()]); await c.stop(); });
  const S = c.scheduler.url;
  const reg = await mallory.sendDigest(`${S}/System/Register`, { RegisterObject: { DeviceID: 'mallory', DeviceType: '0', ProductType: 'x' } }, 'mallory', c.token);
  mallory.setToken((reg.body as { SessionToken: string }).SessionToken);

  const task = (StreamURL: string, extra: Record<string, unknown> = {}) => ({ TaskName: 'scoped', TaskType: 1,
    InitiationInfo: { DeviceID: 'init', CustomInfo: { Inputs: [{ StreamURL }], AlgType: 'frame_extraction', TaskFrameRate: 4, ...extra } } });

  // Initiators: reviewed against their policy.
  const accepted = await alice.send('POST', `${S}/System/TaskRequest/`, task(pathToFileURL(video).href));
  t.equal(accepted.status, 200, `alice's task in her sources is accepted: ${status(accepted)}`);
  const taskId = (accepted.body as { TaskID: string }).TaskID;
  const foreignSource = await alice.send('POST', `${S}/System/TaskRequest/`, task(pathToFileURL(outside).href));
  t.equal(foreignSource.status, 422);
  t.match(foreignSource.body, { StatusCode: '1', Message: /^InitiationInfo\.CustomInfo\.Inputs\[0\]\.StreamURL: not a source initiator "alice" may use/ });
  const prefixTrick = await alice.send('POST', `${S}/System/TaskRequest/`, task(`${pathToFileURL(media).href}-other/v.mp4`));
  t.equal(prefixTrick.status, 422, 'a sibling directory sharing the prefix is not inside it');
  const dotdot = await alice.send('POST', `${S}/System/TaskRequest/`, task(`${pathToFileURL(media).href}/../elsewhere.mp4`));
  t.equal(dotdot.status, 422, `nor is a path that climbs out of it with .. (${status(dotdot)})`);
  const foreignAlg = await alice.send('POST', `${S}/System/TaskRequest/`, task(pathToFileURL(video).href, { AlgType: undefined, AlgID: 2101 }));
  t.match(foreignAlg.body, { StatusCode: '1', Message: /AlgID 2101 is not an algorithm initiator "alice" may use/ });
  t.equal((await alice.send('POST', `${S}/System/AlgorithmRepository`, Buffer.from('x'))).status, 403, 'publishing is a separate right alice lacks');
  t.not((await bob.send('POST', `${S}/System/AlgorithmRepository`, Buffer.from('x'))).status, 403, 'bob has it (the package itself is then judged)');

  // Their own tasks only; another's is unknown to them.
  t.equal((await alice.send('GET', `${S}/System/TaskInfo/${taskId}`)).status, 200, 'alice reads her task');
  t.equal((await bob.send('GET', `${S}/System/TaskInfo/${taskId}`)).status, 404, 'bob does not see it');
  t.equal((await bob.send('GET', `${S}/System/TaskResult/${taskId}`)).status, 404, 'nor its results');
  const stop = await bob.command(S, { CommandType: 'task_ops_control', DeviceID: 'init', MessageBody: { OpsControlList: [{ DeviceID: 'sched', TaskID: taskId, Control: 2 }] } });
  t.match(stop, { StatusCode: '1', Message: /no task or subtask/ }, 'bob cannot stop it');
  const q = await bob.command<{ TaskStatusSet: Array<{ TaskStatusList?: unknown[] }> }>(S, { CommandType: 'task_status_query', DeviceID: 'init', MessageBody: {} });
  t.strictSame(q.TaskStatusSet.flatMap((d) => d.TaskStatusList ?? []), [], 'bob\'s status query lists none of alice\'s tasks');
  t.equal((await bob.send('GET', `${S}/System/DeviceList`)).status, 403, 'initiators do not read the fleet');
  t.equal((await alice.command(S, { CommandType: 'task_result', DeviceID: 'x', MessageBody: {} }) as { StatusCode: string }).StatusCode, '1', 'nor send results');

  // Device sessions: only as themselves.
  const info = await waitFor('the subtask placed on edge-1', async () => {
    const r = await c.client.send('GET', `${S}/System/TaskInfo/${taskId}`);
    const ti = (r.body as { TaskInfo?: TaskInfo }).TaskInfo;
    return ti?.SubtaskInfoList?.[0]?.TaskExecutor.DeviceID === 'edge-1' ? ti : undefined;
  });
  const subtaskId = info.SubtaskInfoList![0]!.TaskDispatchInfo.TaskID;
  const refused: Array<[string, Promise<{ status: number; body: unknown }>]> = [
    ['TaskRequest', mallory.send('POST', `${S}/System/TaskRequest/`, task(pathToFileURL(video).href))],
    ['TaskResult read', mallory.send('GET', `${S}/System/TaskResult/${taskId}`)],
    ['TaskInfo read', mallory.send('GET', `${S}/System/TaskInfo/${taskId}`)],
    ['publish', mallory.send('POST', `${S}/System/AlgorithmRepository`, Buffer.from('x'))],
    ['UnRegister edge-1', mallory.send('POST', `${S}/System/UnRegister`, { UnRegisterObject: { DeviceID: 'edge-1' } })],
    ['Keepalive as edge-1', mallory.send('POST', `${S}/System/Keepalive`, { KeepaliveObject: { DeviceID: 'edge-1' } })],
    ['AvailableResource as edge-1', mallory.send('PATCH', `${S}/System/ResourceInfo/AvailableResource`, { DeviceID: 'edge-1', ResourceInfo: { IsValid: 'N' } })],
    ['TaskStatus as edge-1', mallory.send('PATCH', `${S}/System/TaskStatus/`, { DeviceID: 'edge-1', TaskStatusList: [{ TaskID: subtaskId, ExecutionStatus: 4, Progress: 0, ExceptionCode: 50 }] })],
  ];
  for (const [what, p] of refused) {
    const r = await p;
    t.equal(r.status, 403, `${what}: refused (${status(r)})`);
  }
  // As herself she may report, but not about edge-1's subtask: it is not applied.
  await mallory.send('PATCH', `${S}/System/TaskStatus/`, { DeviceID: 'mallory', TaskStatusList: [{ TaskID: subtaskId, ExecutionStatus: 4, Progress: 0, ExceptionCode: 50 }] });
  // Forged results for edge-1's subtask, claiming edge-1 and CommandIdx values its outbox will use.
  for (let idx = 1; idx <= 20; idx++) {
    const r = await mallory.command(S, { CommandType: 'task_result', CommandIdx: idx, DeviceID: 'edge-1',
      MessageBody: { TaskID: subtaskId, DeviceID: 'edge-1', DstDeviceList: [], AlgID: 0, AlgVersion: '0', Ts: 1, CreateTime: '2026-01-01 00:00:00.00', TaskResultData: {} } });
    if (idx === 1) t.match(r, { StatusCode: '1', Message: /is not a subtask device mallory runs/ }, 'a forged result is refused');
  }
  const end = await waitTaskEnd(c, taskId);
  t.equal(end.ExecutionStatus, 0, 'the task finished normally: the forged Error status was not applied');
  const results = (await alice.send('GET', `${S}/System/TaskResult/${taskId}?limit=500`)).body as { TaskResultList: Array<{ DeviceID: string; Ts: number }> };
  t.ok(results.TaskResultList.length >= 8, `all of edge-1's results stored (${results.TaskResultList.length}): forged CommandIdx values poisoned nothing`);
  t.ok(results.TaskResultList.every((r) => r.DeviceID === 'edge-1' && r.Ts !== 1), 'and none of mallory\'s');
});

t.test('an initiators file with a broken entry is refused naming the field and the rule (generated)', async (t) => {
  const dir = t.testdir({});
  const good = { Name: 'ops', TokenSha256: sha('x'), Sources: ['rtsp://cams.example.net/'], AlgIDs: [2101], Publish: false };
  const breakers: Array<[string, (e: Record<string, unknown>) => void, RegExp]> = [
    ['Name', (e) => { e.Name = 'a b'; }, /Initiators\[0\]\.Name: must be 1\.\.128 of/],
    ['TokenSha256', (e) => { e.TokenSha256 = 'secret'; }, /Initiators\[0\]\.TokenSha256: must be the SHA-256 of the token/],
    ['Sources', (e) => { e.Sources = []; }, /Initiators\[0\]\.Sources: must NOT have fewer than 1 items/],
    ['AlgIDs', (e) => { e.AlgIDs = ['2101']; }, /Initiators\[0\]\.AlgIDs\[0\]: must be of type integer/],
    ['Publish', (e) => { e.Publish = 'yes'; }, /Initiators\[0\]\.Publish: must be of type boolean/],
    ['missing Sources', (e) => { delete e.Sources; }, /Initiators\[0\]\.Sources: is required/],
  ];
  fc.assert(fc.property(fc.constantFrom(...breakers), fc.boolean(), ([, breakIt, message], json) => {
    const e: Record<string, unknown> = structuredClone(good);
    breakIt(e);
    const file = path.join(dir, json ? 'i.json' : 'i.yaml');
    writeFileSync(file, JSON.stringify({ Initiators: [e] }));
    let err: Error | undefined;
    try { Initiators.load(file); } catch (x) { err = x as Error; }
    return !!err && message.test(err.message) && err.message.startsWith(`--initiators ${file}: `);
  }), { numRuns: 60 });
  const file = path.join(dir, 'ok.yaml');
  writeFileSync(file, JSON.stringify({ Initiators: [good, { ...good, Name: 'ops' }] }));
  t.throws(() => Initiators.load(file), /Initiators\.Name "ops" appears twice/);
  writeFileSync(file, JSON.stringify({ Initiators: [good] }));
  const p = Initiators.load(file).authenticate('x');
  t.match(p, { kind: 'initiator', name: 'ops', policy: { Sources: ['rtsp://cams.example.net/'], AlgIDs: [2101] } });
  t.notOk(JSON.stringify(p).includes(good.TokenSha256), 'the digest is not part of the principal');
  t.equal(Initiators.load(file).authenticate('y'), undefined, 'another token is nobody');
  t.notOk(readFileSync(file, 'utf8').includes('"x"'), 'the file holds digests, not tokens');
});

t.test('an initiator\'s sources are compared on resolved paths: no spelling of .. climbs out (Node 20\'s URL parser leaves .. after a dot-segment)', async (t) => {
  const policy = { Sources: ['file:///srv/.cams/media/', 'rtsp://Cams.example.net/'] };
  const verdict = (StreamURL: string) => reviewInitiator('ops', policy, { Inputs: [{ StreamURL }], AlgType: 'frame_extraction' } as never) === null;
  t.notOk(verdict('file:///srv/.cams/media/../secret.mp4'), '.. after a dot-segment (new URL keeps it)');
  t.notOk(verdict('file:///srv/.cams/media/a/%2e%2e/%2E%2E/secret.mp4'), '.. spelled %2e%2e');
  t.notOk(verdict('file:///srv/.cams/media-other/x.mp4'), 'a sibling sharing the prefix');
  t.ok(verdict('file:///srv/.cams/media/a/../b.mp4'), 'a .. that stays inside');
  t.ok(verdict('rtsp://cams.example.net/cam/1'), 'hosts compared without case');
  t.notOk(verdict('rtsp://cams.example.net.evil/cam/1'), 'a host that only starts the same');
});
