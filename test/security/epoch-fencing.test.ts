/**
 * B3 (issue 14): scheduler replicas on etcd, one leader at a time, each leader with a growing
 * epoch sent as `X-Retinad-Epoch`. The executor keeps the highest epoch it has seen (Register and
 * Keepalive replies, commands) in its SQLite state; a command with an older one comes from a
 * deposed leader and is refused before it changes anything. A real executor on a real port,
 * a real HTTP server as the scheduler replica, headers sent raw (duplicates included).
 */
import t from 'tap';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { EPOCH_HEADER, EPOCH_MAX, parseEpochHeader } from '../../src/net/epoch.ts';
import { ExecutionStatus } from '../../src/protocol/index.ts';
import { waitFor } from '../helpers/cluster.ts';
import { clip } from '../helpers/media.ts';
import { startExecutor, startPeer } from '../helpers/nodes.ts';
import { startReplica } from '../helpers/replica.ts';
import { FC_SEED } from '../helpers/seed.ts';

interface Reply { status: number; body: { StatusCode?: string; Message?: string; CommandType?: string; CommandIdx?: number } }

/** POSTs `body` to `url`+`p` with the epoch header as given: one value, several (one header line each), or none. */
function post(url: string, p: string, body: unknown, epoch?: string | string[], method = 'POST'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${p}`, { method, headers: { 'content-type': 'application/json' } }, (res) => {
      let s = '';
      res.on('data', (c) => (s += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(s) as Reply['body'] }));
    });
    if (epoch !== undefined) req.setHeader(EPOCH_HEADER, epoch);
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

let idx = 1;
const dispatch = (deviceId: string, taskId: string, video: string, outputUrl: string) => ({
  CommandType: 'task_dispatch', CommandIdx: idx++, DeviceID: deviceId, MessageBody: { TaskDispatchList: [{
    TaskID: taskId, TaskAttr: 0, AlgModelInfo: { AlgID: 1001, AlgVersion: '1.0.0' }, InputInfo: { StreamURL: pathToFileURL(video).href, TaskFrameRate: 2 },
    DstDeviceList: [{ DeviceID: 'peer', OutputURL: outputUrl }] }] },
});

/** A value the header may carry: exactly one decimal integer 1..EPOCH_MAX (HTTP trims the spaces around it). */
function valid(v: string | string[]): boolean {
  if (Array.isArray(v)) return v.length === 1 && valid(v[0]!);
  const s = v.trim();
  return !s.includes(',') && /^[0-9]{1,16}$/.test(s) && Number(s) >= 1 && Number(s) <= EPOCH_MAX;
}

/** Malformed header values: zero and negatives, too large, fractions and exponents, junk, and more than one value. */
const malformed: fc.Arbitrary<string | string[]> = fc.oneof(
  fc.integer({ min: -1_000_000_000, max: 0 }).map(String),
  fc.bigInt({ min: BigInt(EPOCH_MAX) + 1n, max: 10n ** 30n }).map(String),
  fc.double({ noDefaultInfinity: false }).filter((x) => !Number.isSafeInteger(x) || x < 1).map(String),
  fc.constantFrom('+5', '0x10', '1e3', '5.0', '5 5', '', '9007199254740992', '-0', '05a'),
  fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
  fc.tuple(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 1000 })).map(([a, b]) => [String(a), String(b)]),
  fc.tuple(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 1000 })).map(([a, b]) => `${a}, ${b}`),
).filter((v) => !valid(v));

t.test('B3: parseEpochHeader takes exactly one decimal integer 1..2^53-1; every other value is malformed, named in ≤128 bytes', async (t) => {
  fc.assert(fc.property(fc.integer({ min: 1, max: EPOCH_MAX }), (n) => {
    const h = parseEpochHeader(String(n));
    return h.kind === 'epoch' && h.epoch === n;
  }), { numRuns: 300, seed: FC_SEED });
  fc.assert(fc.property(malformed, (v) => {
    const h = parseEpochHeader(v);
    return h.kind === 'malformed' && h.message.startsWith(`${EPOCH_HEADER}: `) && Buffer.byteLength(h.message) <= 128;
  }), { numRuns: 500, seed: FC_SEED });
  t.same(parseEpochHeader(undefined), { kind: 'absent' }, 'no header: absent (a single scheduler, as before)');
  t.same(parseEpochHeader(['7']), { kind: 'epoch', epoch: 7 }, 'one header line');
  t.match(parseEpochHeader(['7', '7']), { kind: 'malformed', message: /given 2 times/ }, 'the same value twice is still two');
});

t.test('B3: a task_dispatch with an older epoch is refused and starts nothing; a newer one, and one without the header, run', async (t) => {
  const dir = t.testdir({});
  const replica = await startReplica('A');
  replica.epoch = 5;
  const peer = await startPeer();
  const { ex, url, close } = await startExecutor(dir, 'edge-e', { schedulerUrl: replica.url });
  t.teardown(async () => { await close(); await replica.die(); peer.close(); });
  await ex.start();
  t.equal(ex.fence.highest, 5, 'the Register reply\'s epoch is the highest seen');
  const video = clip(path.join(dir, 'c.mp4'), { seconds: 1 });

  const old = await post(url, '/System/Command', dispatch('edge-e', 'from-old', video, peer.url), '4');
  t.equal(old.status, 409, 'HTTP 409');
  t.equal(old.body.StatusCode, '1');
  t.equal(old.body.Message, 'X-Retinad-Epoch: 4 is older than 5 (not the current leader)', 'the Message names the header and the rule');
  t.ok(Buffer.byteLength(old.body.Message ?? '') <= 128, 'within table 21\'s 128 bytes');
  t.equal(old.body.CommandType, 'task_dispatch', 'the refusal echoes CommandType');

  const same = await post(url, '/System/Command', dispatch('edge-e', 'at-5', video, peer.url), '5');
  t.equal(same.body.StatusCode, '0', `the current leader's epoch is taken: ${JSON.stringify(same.body)}`);
  const newer = await post(url, '/System/Command', dispatch('edge-e', 'at-6', video, peer.url), '6');
  t.equal(newer.body.StatusCode, '0', 'a newer leader\'s dispatch is taken');
  t.equal(ex.fence.highest, 6, 'and raises the highest seen');
  const deposed = await post(url, '/System/Command', dispatch('edge-e', 'from-5', video, peer.url), '5');
  t.equal(deposed.body.Message, 'X-Retinad-Epoch: 5 is older than 6 (not the current leader)', 'the leader before it is now deposed');
  const plain = await post(url, '/System/Command', dispatch('edge-e', 'no-header', video, peer.url));
  t.equal(plain.body.StatusCode, '0', 'a command without the header is taken as before');

  // Control routes too: an older epoch changes no limit.
  const limit = ex.taskLimit.max;
  const policy = await post(url, '/System/ExecutorPolicy', { MaxRunningTasks: limit + 3 }, '2', 'PUT');
  t.equal(policy.status, 409, 'PUT /System/ExecutorPolicy with an older epoch: 409');
  t.match(policy.body.Message, /^X-Retinad-Epoch: 2 is older than 6/);
  t.equal(ex.taskLimit.max, limit, 'the limit is unchanged');

  for (const id of ['at-5', 'at-6', 'no-header']) {
    await waitFor(`task ${id} to finish`, async () => (ex.taskStatus(id)?.ExecutionStatus === ExecutionStatus.Done ? true : undefined), 30_000);
  }
  // Results leave through the outbox after the task is Done, so their arrival is waited for too.
  for (const id of ['at-5', 'at-6', 'no-header']) {
    await waitFor(`${id}'s results at the peer`, async () => (peer.received.some((r) => r.TaskID === id) ? true : undefined), 30_000);
  }
  t.pass('the accepted tasks ran and sent results');
  // By now the refused ones would have run, and sent, as long as the accepted ones did.
  for (const id of ['from-old', 'from-5']) {
    t.equal(ex.taskStatus(id), undefined, `${id}: not in the task table`);
    t.notOk(peer.received.some((r) => r.TaskID === id), `${id}: no result sent`);
    t.notOk(replica.arrivals.some((a) => JSON.stringify(a.body).includes(`"${id}"`)), `${id}: no status reported`);
  }

  // A Keepalive reply from a newer leader raises it too; a command of the one before is then refused.
  replica.epoch = 7;
  await waitFor('the keepalive reply\'s epoch', async () => (ex.fence.highest === 7 ? true : undefined), 10_000);
  const after = await post(url, '/System/Command', { CommandType: 'task_status_query', CommandIdx: idx++, MessageBody: {} }, '6');
  t.equal(after.status, 409, 'a query of the deposed leader is refused too');
  t.strictSame((after.body as Record<string, unknown>).TaskStatusSet, [], 'with the table\'s mandatory list, empty');
  replica.epoch = 3;
  await new Promise((r) => setTimeout(r, 1500));
  t.equal(ex.fence.highest, 7, 'an older epoch in a reply never lowers it');
});

t.test('B3: generated malformed X-Retinad-Epoch headers are refused with HTTP 400 naming the header; nothing runs, the epoch stays', async (t) => {
  const dir = t.testdir({});
  const peer = await startPeer();
  const { ex, url, close } = await startExecutor(dir, 'edge-m');
  t.teardown(async () => { await close(); peer.close(); });
  const video = clip(path.join(dir, 'c.mp4'), { seconds: 1 });
  t.equal((await post(url, '/System/Command', { CommandType: 'task_status_query', CommandIdx: idx++, MessageBody: {} }, '3')).body.StatusCode, '0');
  let n = 0;
  await fc.assert(fc.asyncProperty(malformed, async (v) => {
    const id = `bad-${n++}`;
    const r = await post(url, '/System/Command', dispatch('edge-m', id, video, peer.url), v);
    const msg = r.body.Message ?? '';
    if (r.status !== 400 || r.body.StatusCode !== '1' || !msg.startsWith(`${EPOCH_HEADER}: `) || Buffer.byteLength(msg) > 128) {
      throw new Error(`${JSON.stringify(v)} → HTTP ${r.status} ${JSON.stringify(r.body)}`);
    }
    if (ex.taskStatus(id) !== undefined) throw new Error(`${JSON.stringify(v)}: task ${id} was created`);
    if (ex.fence.highest !== 3) throw new Error(`${JSON.stringify(v)}: the highest epoch became ${ex.fence.highest}`);
  }), { numRuns: 80, seed: FC_SEED });
  t.pass(`80 generated malformed headers refused (seed ${FC_SEED})`);
  const twice = await post(url, '/System/Command', dispatch('edge-m', 'twice', video, peer.url), ['4', '4']);
  t.equal(twice.body.Message, 'X-Retinad-Epoch: given 2 times; send one value', 'two header lines: refused, even when equal');
});

t.test('SB9/B3: the highest epoch survives an executor restart', async (t) => {
  const dir = t.testdir({});
  const peer = await startPeer();
  t.teardown(() => peer.close());
  const video = clip(path.join(dir, 'c.mp4'), { seconds: 1 });
  const first = await startExecutor(dir, 'edge-r');
  const raised = await post(first.url, '/System/Command', { CommandType: 'task_status_query', CommandIdx: idx++, MessageBody: {} }, '9');
  t.equal(raised.body.StatusCode, '0');
  await first.close();

  const again = await startExecutor(dir, 'edge-r');
  t.teardown(() => again.close());
  t.equal(again.ex.fence.highest, 9, 'read back from executor.db');
  const old = await post(again.url, '/System/Command', dispatch('edge-r', 'after-restart', video, peer.url), '8');
  t.equal(old.body.Message, 'X-Retinad-Epoch: 8 is older than 9 (not the current leader)', 'a deposed leader is still refused after the restart');
  t.equal(again.ex.taskStatus('after-restart'), undefined, 'and started nothing');
  const cur = await post(again.url, '/System/Command', dispatch('edge-r', 'current', video, peer.url), '9');
  t.equal(cur.body.StatusCode, '0', 'the current leader is taken');
});
