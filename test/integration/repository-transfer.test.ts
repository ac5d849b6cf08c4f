/**
 * EC7 (5.3.3 g) across real processes: a top scheduler, two lower schedulers registered with it
 * (`--upstream`), an executor under each. Versions move between their repositories both ways:
 * the top pulls a model lower-a trained (signed with lower-a's trained-models key, which the top
 * trusts), lower-b pulls it down from the top, and an executor under lower-b runs it; then the
 * same with pushes (lower-a pushes up, the top pushes down) and a new task at lower-b gets the
 * pushed version. Every transfer names a peer, never a URL.
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

let x: TransferCascade;
t.before(async () => {
  t.equal(buildExamples(), 0);
  x = await transferCascade(t.testdir({}), { 'lower-a': ['edge-a1'], 'lower-b': ['edge-b1'] }, ['lower-a']);
});
t.teardown(() => x?.c.stop());

const url = (id: string) => (id === 'top' ? x.c.top.url : defined(x.c.lower.get(id), id).url);
const entry = async (at: string, version: string) => (await repoList(x.c.client, url(at))).find((e) => e.AlgID === 2006 && e.AlgVersion === version);

/** A motion_detection task at lower-b; its end state and results. */
async function runAtLowerB(dir: string, name: string): Promise<{ info: TaskInfo; results: TaskResultBody[] }> {
  const video = clip(path.join(dir, `${name}.mp4`), { size: '640x360', seconds: 2 });
  const r = await x.c.client.send('POST', `${url('lower-b')}/System/TaskRequest/`, { TaskName: name, TaskType: 6,
    InitiationInfo: { DeviceID: 'ec7', CustomInfo: { Inputs: [{ StreamURL: pathToFileURL(video).href }], AlgType: 'motion_detection', TaskFrameRate: 5 } } });
  const id = defined((r.body as { TaskID?: string }).TaskID, `TaskID of ${JSON.stringify(r.body)}`);
  const info = await waitFor(`task ${id} to end`, async () => {
    const ti = ((await x.c.client.send('GET', `${url('lower-b')}/System/TaskInfo/${id}`)).body as { TaskInfo?: TaskInfo }).TaskInfo;
    return ti && (ti.ExecutionStatus === 0 || ti.ExecutionStatus === 4) ? ti : undefined;
  }, 60_000, 250);
  const results = ((await x.c.client.send('GET', `${url('lower-b')}/System/TaskResult/${id}?limit=100`)).body as { TaskResultList: TaskResultBody[] }).TaskResultList;
  return { info, results };
}

t.test('EC7: models up and down by pull — the top pulls lower-a\'s trained version, lower-b pulls it from the top, edge-b1 runs it', async (t) => {
  const a = defined(x.keys.get('lower-a'), 'lower-a key');
  const pub = await publishTo(url('lower-a'), versionOf('motion_detection-1.0.0', '1.0.1', a.privatePem), x.c.token);
  t.equal(pub.status, 200, `lower-a holds 1.0.1, signed with its trained-models key: ${JSON.stringify(pub.body)}`);
  t.notOk(await entry('top', '1.0.1'), 'the top does not have it yet');

  const up = await transfer(x.c.client, url('top'), { AlgID: 2006, AlgVersion: '1.0.1', Peer: 'lower-a', Direction: 'pull' });
  t.equal(up.status, 200, JSON.stringify(up.body));
  t.match(up.body, { StatusCode: '0', AlgID: 2006, AlgVersion: '1.0.1', Peer: 'lower-a', Direction: 'pull', signedBy: a.keyId, Already: false }, 'up: verified against the top\'s trusted keys (lower-a\'s trained-models key among them)');
  t.equal((await entry('top', '1.0.1'))?.TransferredFrom, 'lower-a', 'the top records where it came from');

  const down = await transfer(x.c.client, url('lower-b'), { AlgID: 2006, AlgVersion: '1.0.1', Peer: 'top', Direction: 'pull' });
  t.equal(down.status, 200, JSON.stringify(down.body));
  t.match(down.body, { StatusCode: '0', AlgVersion: '1.0.1', Peer: 'top', Direction: 'pull', Already: false }, 'down: lower-b pulled it from its upper scheduler');
  const atB = defined(await entry('lower-b', '1.0.1'), '1.0.1 at lower-b');
  t.equal(atB.TransferredFrom, 'top');
  t.equal(atB.size, (await entry('lower-a', '1.0.1'))?.size, 'the same bytes as at lower-a');

  const again = await transfer(x.c.client, url('lower-b'), { AlgID: 2006, AlgVersion: '1.0.1', Peer: 'top', Direction: 'pull' });
  t.match(again.body, { StatusCode: '0', Already: true }, 'a second pull of the same version writes nothing');

  const run = await runAtLowerB(t.testdir({}), 'pulled');
  t.equal(run.info.ExecutionStatus, 0, JSON.stringify(run.info.SubtaskInfoList?.[0]?.TaskStatusInfo));
  const sub = defined(run.info.SubtaskInfoList?.[0], 'subtask');
  t.equal(sub.TaskExecutor.DeviceID, 'edge-b1', 'run by the executor under the receiving scheduler');
  t.match(sub.TaskDispatchInfo.AlgModelInfo, { AlgID: 2006, AlgVersion: '1.0.1', AlgFileURL: `${url('lower-b')}/System/AlgorithmRepository/2006/1.0.1.rpk` }, 'fetched from lower-b\'s own repository');
  t.ok(run.results.length >= 5 && run.results.every((r) => r.AlgVersion === '1.0.1'), `${run.results.length} results of version 1.0.1`);
});

t.test('EC7: models up and down by push — lower-a pushes a version to the top, the top pushes it to lower-b, new tasks there get it', async (t) => {
  const a = defined(x.keys.get('lower-a'), 'lower-a key');
  t.equal((await publishTo(url('lower-a'), versionOf('motion_detection-1.0.0', '1.0.2', a.privatePem), x.c.token)).status, 200);

  const up = await transfer(x.c.client, url('lower-a'), { AlgID: 2006, AlgVersion: '1.0.2', Peer: 'top', Direction: 'push' });
  t.equal(up.status, 200, JSON.stringify(up.body));
  t.match(up.body, { StatusCode: '0', AlgVersion: '1.0.2', Peer: 'top', Direction: 'push', signedBy: a.keyId, Already: false }, 'up: the top took it from lower-a');
  t.equal((await entry('top', '1.0.2'))?.TransferredFrom, 'lower-a', 'the top fetched it from its registered lower scheduler');

  const down = await transfer(x.c.client, url('top'), { AlgID: 2006, AlgVersion: '1.0.2', Peer: 'lower-b', Direction: 'push' });
  t.equal(down.status, 200, JSON.stringify(down.body));
  t.match(down.body, { StatusCode: '0', AlgVersion: '1.0.2', Peer: 'lower-b', Direction: 'push' }, 'down: lower-b took it from the top');
  t.equal((await entry('lower-b', '1.0.2'))?.TransferredFrom, 'top');

  // edge-b1 has 1.0.1 installed; the newer version in lower-b's repository goes to new tasks.
  const run = await runAtLowerB(t.testdir({}), 'pushed');
  t.equal(run.info.ExecutionStatus, 0, JSON.stringify(run.info.SubtaskInfoList?.[0]?.TaskStatusInfo));
  t.match(run.info.SubtaskInfoList?.[0], { TaskExecutor: { DeviceID: 'edge-b1' }, TaskDispatchInfo: { AlgModelInfo: { AlgVersion: '1.0.2' } } }, 'edge-b1 was dispatched the pushed version');
  t.ok(run.results.length >= 5 && run.results.every((r) => r.AlgVersion === '1.0.2'), `${run.results.length} results of version 1.0.2`);
});
