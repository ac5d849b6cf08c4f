/**
 * Cascade, bottom-up (Annex B.3) across real processes: an initiator submits to a lower
 * scheduler that is configured to have every request approved by the top scheduler first.
 * A request outside the top's policy for that initiator is refused, naming the rule; an
 * approved one is scheduled locally; one no local executor can take (an area only the other
 * site covers) is handed to the top, placed at the other site, and its status and results still
 * reach the initiator through the lower scheduler it asked.
 */
import t from 'tap';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { waitFor } from '../helpers/cluster.ts';
import { initiator, AREA, startCascade, type CascadeCluster } from '../helpers/cascade-cluster.ts';
import { makeSampleClip } from '../../src/demo.ts';
import { RetinaClient } from '../../src/net/client.ts';
import type { TaskInfo, TaskResultBody } from '../../src/protocol/index.ts';
import { defined } from '../helpers/defined.ts';

let c: CascadeCluster;
let alice: RetinaClient;
let okDir: string;

t.before(async () => {
  const dir = t.testdir({});
  okDir = path.join(dir, 'ok');
  mkdirSync(okDir, { recursive: true });
  mkdirSync(path.join(dir, 'denied'), { recursive: true });
  const token = randomBytes(16).toString('hex');
  const sha = createHash('sha256').update(token).digest('hex');
  // The top lets alice use only the "ok" folder; lower-a lets her use anything.
  writeFileSync(path.join(dir, 'top-initiators.json'), JSON.stringify({ Initiators: [{ Name: 'alice', TokenSha256: sha, Sources: [`${pathToFileURL(okDir).href}/`], AlgTypes: ['frame_extraction'] }] }));
  writeFileSync(path.join(dir, 'lower-initiators.json'), JSON.stringify({ Initiators: [{ Name: 'alice', TokenSha256: sha, Sources: ['*'] }] }));
  c = await startCascade(path.join(dir, 'cascade'), { 'lower-a': ['edge-a1'], 'lower-b': ['edge-b1'] }, {
    topArgs: ['--initiators', path.join(dir, 'top-initiators.json')],
    // lower-a asks the top to approve every request; only lower-b's site lies in AREA, and its
    // executor: the task's Constraints travel down with the dispatch and hold there too (B.2).
    lowerArgs: (id) => (id === 'lower-a' ? ['--upstream-approval', '--initiators', path.join(dir, 'lower-initiators.json')] : ['--longitude', '116.400000', '--latitude', '39.900000']),
    executorArgs: (id) => (id === 'edge-b1' ? ['--longitude', '116.410000', '--latitude', '39.910000'] : []),
  });
  alice = new RetinaClient({ token, senderId: 'alice' });
});
t.teardown(async () => { await alice?.close(); await c?.stop(); });

const lowerA = () => defined(c.lower.get('lower-a'), 'lower-a').url;
const info = async (url: string, id: string, who: RetinaClient = c.client) => ((await who.send('GET', `${url}/System/TaskInfo/${id}`)).body as { TaskInfo?: TaskInfo }).TaskInfo;
const ended = (url: string, id: string, who?: RetinaClient) => waitFor(`task ${id} to end at ${url}`, async () => {
  const ti = await info(url, id, who);
  return ti && (ti.ExecutionStatus === 0 || ti.ExecutionStatus === 4) ? ti : undefined;
}, 60_000, 250);
const submit = (name: string, stream: string, extra: Record<string, unknown> = {}, constraints?: Record<string, unknown>) => alice.send('POST', `${lowerA()}/System/TaskRequest/`, {
  TaskType: 1, TaskName: name, ...(constraints ? { Constraints: constraints } : {}),
  InitiationInfo: { DeviceID: 'initiator-1', CustomInfo: { Inputs: [{ StreamURL: stream }], AlgType: 'frame_extraction', TaskFrameRate: 2, ...extra } } });

t.test('B.3 step 3: a request the top\'s policy for the initiator does not allow is refused by the top\'s review, naming the rule', async (t) => {
  const clip = path.join(path.dirname(okDir), 'denied', 'clip.mp4');
  makeSampleClip(clip, 'testsrc', 2, '320x240');
  const r = await submit('denied above', pathToFileURL(clip).href);
  t.equal(r.status, 422);
  t.match(r.body, { StatusCode: '1', Message: /^upstream review: InitiationInfo\.CustomInfo\.Inputs\[0\]\.StreamURL: not a source initiator "alice" may use/ });
});

t.test('B.3 steps 2-5: an approved request is scheduled by the lower scheduler on its own executor; results at the initiator', async (t) => {
  const clip = path.join(okDir, 'local.mp4');
  makeSampleClip(clip, 'testsrc', 10, '640x360');
  const init = await initiator();
  t.teardown(() => init.close());
  const r = await submit('bottom-up local', pathToFileURL(clip).href, { NotifyURL: init.url });
  const id = defined((r.body as { TaskID?: string }).TaskID, `accepted: ${JSON.stringify(r.body)}`);
  const end = await ended(lowerA(), id, alice);
  t.equal(end.ExecutionStatus, 0);
  t.strictSame(end.DeviceList, ['edge-a1'], 'placed by lower-a on its executor');
  t.equal(await info(c.top.url, id), undefined, 'the top approved it but does not run it');
  await waitFor('results and the end at the initiator', async () => (init.results.length >= 18 && init.statuses.at(-1) === 0 ? true : undefined), 20_000, 250);
  t.ok(init.results.length >= 18, `${init.results.length} results pushed to NotifyURL`);
});

t.test('B.3 step 4, assisted scheduling: a request no local executor can take is placed by the top at the other site; status and results reach the initiator through the lower scheduler', async (t) => {
  const clip = path.join(okDir, 'assisted.mp4');
  makeSampleClip(clip, 'testsrc', 10, '640x360');
  const init = await initiator();
  t.teardown(() => init.close());
  const r = await submit('bottom-up assisted', pathToFileURL(clip).href, { NotifyURL: init.url }, AREA);
  t.equal(r.status, 200, `accepted: ${JSON.stringify(r.body)}`);
  const id = defined((r.body as { TaskID?: string }).TaskID, 'TaskID');
  const here = await ended(lowerA(), id, alice);
  t.equal(here.ExecutionStatus, 0, 'done, as lower-a reports it to its initiator');
  t.ok(here.SubtaskInfoList?.length && here.SubtaskInfoList.every((s) => s.TaskExecutor.DeviceID === 'top'), 'its subtasks were placed above');
  const top = defined(await info(c.top.url, id), 'the task at the top');
  t.strictSame(top.DeviceList, ['lower-b'], 'the top placed it at the site in the area');
  t.match(top.Constraints, { AvoidDevices: ['lower-a'] }, 'told to avoid the site that asked');
  await waitFor('results and the end at the initiator', async () => (init.results.length >= 18 && init.statuses.at(-1) === 0 ? true : undefined), 30_000, 250);
  t.ok(init.results.length >= 18, `${init.results.length} results pushed to NotifyURL by lower-a`);
  const stored = ((await alice.send('GET', `${lowerA()}/System/TaskResult/${id}?limit=500`)).body as { TaskResultList: TaskResultBody[] }).TaskResultList;
  t.equal(stored.length, init.results.length, 'and stored at lower-a, once each');
});
