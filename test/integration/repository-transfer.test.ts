/**
 * EC7 (5.3.3 g) across real processes: a top scheduler, two lower schedulers registered with it
 * (`--upstream`), an executor under each; lower-a is behind NAT (the top cannot connect to it: it
 * takes commands over its command channel). Versions move between the repositories both ways:
 * the top pulls a model lower-b trained (signed with lower-b's trained-models key, which the top
 * trusts), lower-a pulls it down from the top, and the executor under lower-a runs it; lower-a
 * pushes its own trained version up over its session, the top pushes it down to lower-b, and the
 * executor under lower-b runs it. Every transfer names a peer, never a URL.
 */
import t from 'tap';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { waitFor } from '../helpers/cluster.ts';
import { buildExamples } from '../helpers/examples.ts';
import { clip } from '../helpers/media.ts';
import { publishTo, repoList, transfer, transferCascade, versionOf, type TransferCascade } from '../helpers/transfer.ts';
import { defined } from '../helpers/defined.ts';
import type { TaskInfo, TaskResultBody } from '../../src/protocol/index.ts';

/** Nothing listens there: lower-a registers with it as its CommandURL (behind NAT). */
const NAT_URL = 'http://127.0.0.1:9';
let x: TransferCascade;
t.before(async () => {
  t.equal(buildExamples(), 0);
  x = await transferCascade(t.testdir({}), { 'lower-a': ['edge-a1'], 'lower-b': ['edge-b1'] }, ['lower-a', 'lower-b'],
    (id) => (id === 'lower-a' ? ['--upstream-advertise', NAT_URL, '--command-channel'] : []));
});
t.teardown(() => x?.c.stop());

const url = (id: string) => (id === 'top' ? x.c.top.url : defined(x.c.lower.get(id), id).url);
const entry = async (at: string, version: string) => (await repoList(x.c.client, url(at))).find((e) => e.AlgID === 2006 && e.AlgVersion === version);
const key = (id: string) => defined(x.keys.get(id), `${id}'s trained-models key`);

/** A motion_detection task at lower scheduler `at`; its end state and results. */
async function runAt(at: string, dir: string, name: string): Promise<{ info: TaskInfo; results: TaskResultBody[] }> {
  const video = clip(path.join(dir, `${name}.mp4`), { size: '640x360', seconds: 2 });
  const r = await x.c.client.send('POST', `${url(at)}/System/TaskRequest/`, { TaskName: name, TaskType: 6,
    InitiationInfo: { DeviceID: 'ec7', CustomInfo: { Inputs: [{ StreamURL: pathToFileURL(video).href }], AlgType: 'motion_detection', TaskFrameRate: 5 } } });
  const id = defined((r.body as { TaskID?: string }).TaskID, `TaskID of ${JSON.stringify(r.body)}`);
  const info = await waitFor(`task ${id} to end`, async () => {
    const ti = ((await x.c.client.send('GET', `${url(at)}/System/TaskInfo/${id}`)).body as { TaskInfo?: TaskInfo }).TaskInfo;
    return ti && (ti.ExecutionStatus === 0 || ti.ExecutionStatus === 4) ? ti : undefined;
  }, 60_000, 250);
  const results = ((await x.c.client.send('GET', `${url(at)}/System/TaskResult/${id}?limit=100`)).body as { TaskResultList: TaskResultBody[] }).TaskResultList;
  return { info, results };
}

t.test('EC7: models up and down by pull — the top pulls the version lower-b trained, lower-a pulls it from the top, edge-a1 runs it', async (t) => {
  const b = key('lower-b');
  const pub = await publishTo(url('lower-b'), versionOf('motion_detection-1.0.0', '1.0.1', b.privatePem), x.c.token);
  t.equal(pub.status, 200, `lower-b holds 1.0.1, signed with its trained-models key: ${JSON.stringify(pub.body)}`);
  t.notOk(await entry('top', '1.0.1'), 'the top does not have it yet');

  const up = await transfer(x.c.client, url('top'), { AlgID: 2006, AlgVersion: '1.0.1', Peer: 'lower-b', Direction: 'pull' });
  t.equal(up.status, 200, JSON.stringify(up.body));
  t.match(up.body, { StatusCode: '0', AlgID: 2006, AlgVersion: '1.0.1', Peer: 'lower-b', Direction: 'pull', signedBy: b.keyId, Already: false }, 'up: verified against the top\'s trusted keys (lower-b\'s trained-models key among them)');
  t.equal((await entry('top', '1.0.1'))?.TransferredFrom, 'lower-b', 'the top records where it came from');

  const down = await transfer(x.c.client, url('lower-a'), { AlgID: 2006, AlgVersion: '1.0.1', Peer: 'top', Direction: 'pull' });
  t.equal(down.status, 200, JSON.stringify(down.body));
  t.match(down.body, { StatusCode: '0', AlgVersion: '1.0.1', Peer: 'top', Direction: 'pull', Already: false }, 'down: lower-a (behind NAT) pulled it from its upper scheduler');
  const atA = defined(await entry('lower-a', '1.0.1'), '1.0.1 at lower-a');
  t.equal(atA.TransferredFrom, 'top');
  t.equal(atA.size, (await entry('lower-b', '1.0.1'))?.size, 'the same bytes as at lower-b');

  const again = await transfer(x.c.client, url('lower-a'), { AlgID: 2006, AlgVersion: '1.0.1', Peer: 'top', Direction: 'pull' });
  t.match(again.body, { StatusCode: '0', Already: true }, 'a second pull of the same version writes nothing');

  const run = await runAt('lower-a', t.testdir({}), 'pulled');
  t.equal(run.info.ExecutionStatus, 0, JSON.stringify(run.info.SubtaskInfoList?.[0]?.TaskStatusInfo));
  const sub = defined(run.info.SubtaskInfoList?.[0], 'subtask');
  t.equal(sub.TaskExecutor.DeviceID, 'edge-a1', 'run by the executor under the receiving scheduler');
  t.match(sub.TaskDispatchInfo.AlgModelInfo, { AlgID: 2006, AlgVersion: '1.0.1', AlgFileURL: `${url('lower-a')}/System/AlgorithmRepository/2006/1.0.1.rpk` }, 'fetched from lower-a\'s own repository');
  t.ok(run.results.length >= 5 && run.results.every((r) => r.AlgVersion === '1.0.1'), `${run.results.length} results of version 1.0.1`);

  // The limit of pulling: the top cannot connect to a lower scheduler behind NAT (it pushes up instead).
  const nat = await transfer(x.c.client, url('top'), { AlgID: 2006, AlgVersion: '1.0.1', Peer: 'lower-a', Direction: 'pull' });
  t.match(nat, { status: 502, body: { StatusCode: '1', Message: /^Peer: lower-a: / } }, 'a pull from lower-a fails, naming the peer');
});

t.test('EC7: models up and down by push — lower-a pushes its trained version up over its session, the top pushes it to lower-b, edge-b1 runs it', async (t) => {
  const a = key('lower-a');
  t.equal((await publishTo(url('lower-a'), versionOf('motion_detection-1.0.0', '1.0.2', a.privatePem), x.c.token)).status, 200);

  const up = await transfer(x.c.client, url('lower-a'), { AlgID: 2006, AlgVersion: '1.0.2', Peer: 'top', Direction: 'push' });
  t.equal(up.status, 200, JSON.stringify(up.body));
  t.match(up.body, { StatusCode: '0', AlgVersion: '1.0.2', Peer: 'top', Direction: 'push', signedBy: a.keyId, Already: false }, 'up: the top took it from lower-a, behind NAT');
  t.equal((await entry('top', '1.0.2'))?.TransferredFrom, 'lower-a', 'the top records the sender its session names');

  const down = await transfer(x.c.client, url('top'), { AlgID: 2006, AlgVersion: '1.0.2', Peer: 'lower-b', Direction: 'push' });
  t.equal(down.status, 200, JSON.stringify(down.body));
  t.match(down.body, { StatusCode: '0', AlgVersion: '1.0.2', Peer: 'lower-b', Direction: 'push', signedBy: a.keyId }, 'down: lower-b took it from the top');
  t.equal((await entry('lower-b', '1.0.2'))?.TransferredFrom, 'top');

  const run = await runAt('lower-b', t.testdir({}), 'pushed');
  t.equal(run.info.ExecutionStatus, 0, JSON.stringify(run.info.SubtaskInfoList?.[0]?.TaskStatusInfo));
  t.match(run.info.SubtaskInfoList?.[0], { TaskExecutor: { DeviceID: 'edge-b1' }, TaskDispatchInfo: { AlgModelInfo: { AlgVersion: '1.0.2', AlgFileURL: `${url('lower-b')}/System/AlgorithmRepository/2006/1.0.2.rpk` } } }, 'edge-b1 was dispatched the pushed version from lower-b\'s repository');
  t.ok(run.results.length >= 5 && run.results.every((r) => r.AlgVersion === '1.0.2'), `${run.results.length} results of version 1.0.2`);
});
