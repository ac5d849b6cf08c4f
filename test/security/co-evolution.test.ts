/**
 * Attacks on model co-evolution (EC8), against a real scheduler: a co-evolving task's rounds run
 * a teacher algorithm in the initiator's name, so the teacher is reviewed against the initiator's
 * policy at intake (an initiator may not reach an algorithm it may not use through its rounds);
 * the hard set a round fetches is a set name, never a path or URL; and every malformed policy,
 * generated, is refused naming its field while the scheduler stays up.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import fc from 'fast-check';
import { startCluster, type Cluster } from '../helpers/cluster.ts';
import { arbitraryOf, sitesOf, withField, wrongTypeFor, renderPath, DELETE } from '../helpers/schema-arbitrary.ts';
import { FC_SEED } from '../helpers/seed.ts';
import { RetinaClient } from '../../src/net/client.ts';
import { CoEvolve } from '../../src/protocol/index.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

let c: Cluster;
let alice: RetinaClient;
t.before(async () => {
  const dir = t.testdir({});
  const initiators = path.join(dir, 'initiators.yaml');
  writeFileSync(initiators, ['Initiators:', `  - { Name: alice, TokenSha256: ${sha('alice-token')}, Sources: ["*"], AlgIDs: [2202] }`].join('\n'));
  c = await startCluster(path.join(dir, 'c'), 1, { schedulerArgs: ['--initiators', initiators] });
  alice = new RetinaClient({ token: 'alice-token', senderId: 'alice' });
});
t.teardown(async () => { await alice?.close(); await c?.stop(); });

const request = (algArgs: unknown) => ({ TaskName: 'co', TaskType: 6, Constraints: { DeployOn: 'input-device' },
  InitiationInfo: { DeviceID: 'init', CustomInfo: { AlgID: 2202, AlgArgs: algArgs, Inputs: [{ DeviceID: 'edge-1', StreamURL: 'https://cams.example.net/7' }] } } });
const said = (r: { status: number; body: unknown }) => `${r.status} ${JSON.stringify(r.body).slice(0, 200)}`;

t.test('EC8: an initiator\'s rounds may not run a teacher its policy does not allow', async (t) => {
  const r = await alice.send('POST', `${c.scheduler.url}/System/TaskRequest/`, request({ HardExampleThreshold: 0.5, CoEvolve: { TeacherAlgID: 2201, Every: 10 } }));
  t.match(r.body, { StatusCode: '1', Message: /AlgArgs\.CoEvolve\.TeacherAlgID: AlgID 2201 is not an algorithm initiator "alice" may use/ }, said(r));
});

t.test('EC8: the hard set a round fetches is a set name, never a path or a URL', async (t) => {
  for (const set of ['../../etc/passwd', 'http://evil.example/x', 'a/b', '', 'x'.repeat(65), 7]) {
    const r = await c.client.send('POST', `${c.scheduler.url}/System/TaskRequest/`, request({ HardExampleThreshold: 0.5, HardExampleSet: set, CoEvolve: { TeacherAlgID: 2201, Every: 10 } }));
    t.match(r.body, { StatusCode: '1', Message: /AlgArgs\.CoEvolve: AlgArgs\.HardExampleSet must be/ }, `${JSON.stringify(set)}: ${said(r)}`);
  }
});

t.test('EC8: generated malformed CoEvolve policies are refused naming the field; the scheduler stays up', async (t) => {
  const bad: unknown[] = [];
  fc.assert(fc.property(arbitraryOf(CoEvolve), fc.nat(), fc.boolean(), (v, pick, drop) => {
    const sites = sitesOf(CoEvolve, v).filter((s) => s.path.length > 0 && (drop ? s.required : true));
    const site = sites[pick % Math.max(1, sites.length)];
    if (!site) return;
    bad.push({ v: withField(v, site.path, drop ? DELETE : wrongTypeFor(site.schema)), where: renderPath(site.path) });
  }), { numRuns: 40, seed: FC_SEED });
  t.ok(bad.length >= 30, `${bad.length} malformed policies (seed ${FC_SEED})`);
  for (const { v, where } of bad as Array<{ v: unknown; where: string }>) {
    const r = await c.client.send('POST', `${c.scheduler.url}/System/TaskRequest/`, request({ HardExampleThreshold: 0.5, CoEvolve: v }));
    const msg = (r.body as { Message?: string }).Message ?? '';
    if ((r.body as { StatusCode?: string }).StatusCode !== '1' || !msg.startsWith('InitiationInfo.CustomInfo.AlgArgs.CoEvolve: ') || !msg.includes(where)) t.fail(`${where} of ${JSON.stringify(v)}: ${said(r)}`);
  }
  for (const v of [null, 'yes', [], 1e308, { TeacherAlgID: 2201, Every: 10, Epochs: Number.MAX_SAFE_INTEGER }]) {
    const r = await c.client.send('POST', `${c.scheduler.url}/System/TaskRequest/`, request({ HardExampleThreshold: 0.5, CoEvolve: v }));
    t.match(r.body, { StatusCode: '1', Message: /^InitiationInfo\.CustomInfo\.AlgArgs\.CoEvolve: / }, `${JSON.stringify(v)}: ${said(r)}`);
  }
  const alive = await c.client.send('GET', `${c.scheduler.url}/System/Time`);
  t.equal(alive.status, 200, 'the scheduler is still up');
});
