/**
 * Attacks on event-triggered tasks (M3, SB4), against a real scheduler and executor: whoever may
 * push `POST /System/TaskEvent` can start tasks, so the route is held to the same principals as
 * task control — an executor's session may not push (it could start any task by forging one),
 * an initiator starts only its own held tasks and may wait only on its own tasks, a body is a few
 * facts (bounded), and every malformed body is refused naming its field.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import fc from 'fast-check';
import { request } from 'undici';
import { startCluster, waitTaskEnd, type Cluster } from '../helpers/cluster.ts';
import { clip } from '../helpers/media.ts';
import { arbitraryOf, sitesOf, withField, wrongTypeFor, oneByteTooLong, renderPath, DELETE } from '../helpers/schema-arbitrary.ts';
import { FC_SEED } from '../helpers/seed.ts';
import { RetinaClient } from '../../src/net/client.ts';
import { TASK_EVENT_MAX_BYTES, TaskEvent, type TaskInfo } from '../../src/protocol/index.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const said = (r: { status: number; body: unknown }) => `${r.status} ${JSON.stringify(r.body).slice(0, 200)}`;

let c: Cluster;
let alice: RetinaClient;
let bob: RetinaClient;
let mallory: RetinaClient;
let video: string;
t.before(async () => {
  const dir = t.testdir({ media: {} });
  video = pathToFileURL(clip(path.join(dir, 'media', 'v.mp4'), { seconds: 1 })).href;
  const initiators = path.join(dir, 'initiators.yaml');
  writeFileSync(initiators, [
    'Initiators:',
    `  - { Name: alice, TokenSha256: ${sha('alice-token')}, Sources: ["*"] }`,
    `  - { Name: bob, TokenSha256: ${sha('bob-token')}, Sources: ["*"] }`,
  ].join('\n'));
  c = await startCluster(path.join(dir, 'c'), 1, { schedulerArgs: ['--initiators', initiators] });
  alice = new RetinaClient({ token: 'alice-token', senderId: 'alice' });
  bob = new RetinaClient({ token: 'bob-token', senderId: 'bob' });
  // Mallory holds a device session: she registered a device of her own (or stole its session).
  mallory = new RetinaClient({ senderId: 'edge-1/forged' });
  const reg = await mallory.sendDigest(`${c.scheduler.url}/System/Register`, { RegisterObject: { DeviceID: 'mallory', DeviceType: '0', ProductType: 'x' } }, 'mallory', c.token);
  mallory.setToken((reg.body as { SessionToken: string }).SessionToken);
});
t.teardown(async () => { await Promise.all([alice?.close(), bob?.close(), mallory?.close()]); await c?.stop(); });

const task = (extra: Record<string, unknown>) => ({ TaskName: 'held', TaskType: 1,
  InitiationInfo: { DeviceID: 'init', CustomInfo: { Inputs: [{ StreamURL: video }], AlgType: 'frame_extraction', TaskFrameRate: 2, ...extra } } });
const status = async (id: string): Promise<number | undefined> => ((await c.client.send('GET', `${c.scheduler.url}/System/TaskInfo/${id}`)).body as { TaskInfo?: TaskInfo }).TaskInfo?.ExecutionStatus;

t.test('M3, SB4: an executor session cannot push task events; an initiator starts only its own held tasks and waits only on its own', async (t) => {
  const S = c.scheduler.url;
  const r = await alice.send('POST', `${S}/System/TaskRequest/`, task({ StartOn: { Event: 'alarm' } }));
  const id = (r.body as { TaskID?: string }).TaskID;
  t.ok(id, said(r));

  const forged = await mallory.send('POST', `${S}/System/TaskEvent`, { Event: 'alarm' });
  t.equal(forged.status, 403, `a device session is refused: ${said(forged)}`);
  t.equal((forged.body as { StatusCode: string }).StatusCode, '1');
  const noToken = await new RetinaClient({ senderId: 'anon' }).send('POST', `${S}/System/TaskEvent`, { Event: 'alarm' });
  t.equal(noToken.status, 401, 'no credential: refused');
  const other = await bob.send('POST', `${S}/System/TaskEvent`, { Event: 'alarm' });
  t.equal(other.status, 200);
  t.strictSame((other.body as { Started: string[] }).Started, [], 'another initiator\'s event does not start alice\'s task');
  t.equal(await status(id!), 3, 'still held after the forged and the foreign events');

  const spy = await bob.send('POST', `${S}/System/TaskRequest/`, task({ StartOn: { TaskID: id } }));
  t.equal(spy.status, 422, said(spy));
  t.match(spy.body, { StatusCode: '1', Message: /^InitiationInfo\.CustomInfo\.StartOn\.TaskID: no task "/ }, 'bob may not wait on alice\'s task (nor learn it exists)');
  const both = await alice.send('POST', `${S}/System/TaskRequest/`, task({ StartOn: { Event: 'x', TaskID: id } }));
  t.match(both.body, { StatusCode: '1', Message: /^InitiationInfo\.CustomInfo\.StartOn: name exactly one source/ }, 'two sources at once are refused, naming the rule');

  const own = await alice.send('POST', `${S}/System/TaskEvent`, { Event: 'alarm' });
  t.strictSame((own.body as { Started: string[] }).Started, [id], 'alice\'s own event starts it');
  t.equal((await waitTaskEnd(c, id!, 60_000)).ExecutionStatus, 0);
});

t.test('M3, SB4: an event body over the bound is refused before it is read into a task; the held task waits on', async (t) => {
  const r = await c.client.send('POST', `${c.scheduler.url}/System/TaskRequest/`, task({ StartOn: { Event: 'big' } }));
  const id = (r.body as { TaskID: string }).TaskID;
  const body = JSON.stringify({ Event: 'big', Data: { Blob: 'x'.repeat(TASK_EVENT_MAX_BYTES) } });
  const big = await request(`${c.scheduler.url}/System/TaskEvent`, { method: 'POST', body, headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json' } });
  const j = await big.body.json() as { StatusCode?: string };
  t.equal(big.statusCode, 413, 'too large');
  t.equal(j.StatusCode, '1');
  t.equal(await status(id), 3, 'the oversize event started nothing');
});

t.test('M3, SB4: generated malformed TaskEvent bodies get 400 naming the field and the rule', async (t) => {
  const auth = { authorization: `Bearer ${c.token}`, 'content-type': 'application/json' };
  const cases = fc.sample(fc.tuple(arbitraryOf(TaskEvent), fc.nat(), fc.constantFrom('type', 'missing', 'long')), { numRuns: 60, seed: FC_SEED });
  const failures: string[] = [];
  let sent = 0;
  for (const [v, pick, how] of cases) {
    const sites = sitesOf(TaskEvent, v).filter((s) => (how === 'missing' ? s.required : how === 'long' ? typeof s.schema.maxBytes === 'number' : true));
    if (!sites.length) continue;
    const site = sites[pick % sites.length]!;
    const repl = how === 'type' ? wrongTypeFor(site.schema) : how === 'missing' ? DELETE : oneByteTooLong(site.schema.maxBytes as number, pick % 2 === 0);
    const text = JSON.stringify(withField(v, site.path, repl));
    const r = await request(`${c.scheduler.url}/System/TaskEvent`, { method: 'POST', body: text, headers: auth });
    const j = await r.body.json() as { StatusCode?: string; Message?: string };
    sent++;
    const field = renderPath(site.path);
    if (r.statusCode !== 400 || j.StatusCode !== '1' || !j.Message?.startsWith(`${field}:`)) failures.push(`${how} ${field}: ${text.slice(0, 80)} → ${r.statusCode} ${JSON.stringify(j).slice(0, 160)} (seed ${FC_SEED})`);
  }
  t.ok(sent >= 40, `${sent} malformed events sent`);
  t.strictSame(failures.slice(0, 10), [], 'each refused with 400, its Message starting with the field');
});
