/** ED3/ED4: the persistent outbox delivers in order, retries an unreachable peer, survives a restart, dead-letters refusals. */
import t, { type Test } from 'tap';
import { mock } from 'node:test';
import Database from 'better-sqlite3';
import path from 'node:path';
import { pino } from 'pino';
import { Outbox, type OutboxMessage } from '../../src/runtime/outbox.ts';
import { waitFor } from '../helpers/cluster.ts';

const log = pino({ level: 'silent' });
const msg = (n: number): OutboxMessage => ({ method: 'POST', path: '/System/Command', body: { n } });

t.test('ED4: failed sends are cached and resent, in order, until the peer takes them', async (t) => {
  const db = new Database(path.join(t.testdir({}), 'o.db'));
  const got: number[] = [];
  let up = false;
  let refused = 0;
  const ob = new Outbox(db, async (_d, _seq, m) => {
    if (!up) { refused++; throw new Error('ECONNREFUSED'); }
    got.push(m.body.n as number);
    return { ok: true };
  }, log);
  ob.start();
  for (let i = 0; i < 5; i++) ob.enqueue(['http://peer'], 'task-a', msg(i));
  // The outbox has tried, and been refused (polled with a deadline, not a fixed wait).
  await waitFor('a refused attempt', async () => (refused > 0 ? true : undefined), 10_000, 10);
  t.equal(got.length, 0, 'nothing delivered while the peer is down');
  t.equal(ob.pending('task-a'), 5, 'all five kept');
  up = true;
  const left = await ob.flush('task-a', 10_000);
  t.equal(left, 0);
  t.strictSame(got, [0, 1, 2, 3, 4], 'delivered in order');
  ob.close();
  db.close();
});

t.test('ED4: what a crashed executor left in the outbox is sent after restart, with the same sequence numbers', async (t) => {
  const file = path.join(t.testdir({}), 'o.db');
  let db = new Database(file);
  let ob = new Outbox(db, async () => ({ ok: false, message: 'down' }), log);
  ob.enqueue(['http://peer'], 'task-b', msg(7));
  ob.enqueue(['http://peer'], 'task-b', msg(8));
  ob.close();
  db.close();
  db = new Database(file);
  const seen: Array<[number, number]> = [];
  ob = new Outbox(db, async (_d, seq, m) => { seen.push([seq, m.body.n as number]); return { ok: true }; }, log);
  ob.start();
  // start() alone sends what was left (polled, not flushed: flush would kick the pump itself).
  await waitFor('the resend after restart', async () => (seen.length === 2 ? true : undefined), 10_000, 10);
  t.equal(await ob.flush('task-b', 5000), 0);
  t.strictSame(seen, [[1, 7], [2, 8]], 'resent in order; seq (the CommandIdx) is stable, so the peer can de-duplicate');
  ob.close();
  db.close();
});

t.test('a refused message is dead-lettered and does not block the ones behind it', async (t) => {
  const db = new Database(path.join(t.testdir({}), 'o.db'));
  const got: number[] = [];
  const ob = new Outbox(db, async (_d, _s, m) => {
    if (m.body.n === 1) return { ok: false, permanent: true, message: 'HTTP 404' };
    got.push(m.body.n as number);
    return { ok: true };
  }, log);
  ob.start();
  for (let i = 0; i < 3; i++) ob.enqueue(['http://peer'], 't', msg(i));
  t.equal(await ob.flush('t', 5000), 0);
  t.strictSame(got, [0, 2]);
  t.strictSame(db.prepare('SELECT dest_url, task_id, body, reason FROM outbox_dead').all(),
    [{ dest_url: 'http://peer', task_id: 't', body: JSON.stringify(msg(1)), reason: 'HTTP 404' }], 'kept for inspection, with the peer\'s reason');
  ob.close();
  db.close();
});

t.test('destinations are independent: a dead peer does not hold up a live one', async (t) => {
  const db = new Database(path.join(t.testdir({}), 'o.db'));
  const got: string[] = [];
  const ob = new Outbox(db, async (d) => {
    if (d === 'http://dead') throw new Error('ECONNREFUSED');
    got.push(d);
    return { ok: true };
  }, log);
  ob.start();
  ob.enqueue(['http://dead', 'http://live'], 't', msg(1));
  ob.enqueue(['http://live'], 'u', msg(2));
  t.equal(await ob.flush('u', 5000), 0);
  t.ok(got.filter((d) => d === 'http://live').length === 2, 'live peer got both');
  t.equal(ob.pending('t'), 1, 'the dead peer copy waits');
  t.equal(ob.pending(), 1, 'and it is all that is pending');
  t.equal(await ob.flush('t', 300), 1, 'a flush that runs out of time returns what is left');
  ob.close();
  db.close();
});

t.test('M2/S7: a task\'s queued results follow its next stage to a new executor, in order; reports and other tasks stay', async (t) => {
  const db = new Database(path.join(t.testdir({}), 'o.db'));
  const got: Array<[string, string, number]> = [];
  let refused = 0;
  // A mocked clock (node:test MockTimers): the outbox's timers fire only when the test moves it,
  // so "without waiting for the old backoff" is exact: delivered while the clock stands still.
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.UTC(2026, 0, 1) });
  t.teardown(() => mock.timers.reset());
  /** Lets every timer due now run and the sends they start settle, without moving the clock. */
  const settle = async () => { for (let i = 0; i < 50; i++) { mock.timers.tick(0); await new Promise((r) => setImmediate(r)); } };
  const ob = new Outbox(db, async (d, _seq, m) => {
    if (d === 'http://dead') { refused++; throw new Error('ECONNREFUSED'); }
    got.push([d, String((m.body as { task?: string }).task), m.body.n as number]);
    return { ok: true };
  }, log);
  ob.start();
  const result = (task: string, n: number): OutboxMessage => ({ method: 'POST', path: '/System/Command', body: { CommandType: 'task_result', task, n } });
  for (let i = 0; i < 4; i++) ob.enqueue(['http://dead'], 'up', result('up', i));
  ob.enqueue(['http://dead'], 'up', { method: 'PATCH', path: '/System/TaskStatus/', body: { task: 'up', n: 99 } });
  ob.enqueue(['http://dead'], 'other', result('other', 0));
  // The dead peer has refused, so its messages sit in backoff (500 ms of the mocked clock and more).
  await settle();
  t.ok(refused > 0, 'the dead peer was tried');
  t.equal(ob.retarget('up', ['http://dead'], ['http://dead']), 0, 'same destinations: nothing moves');
  t.equal(ob.retarget('up', ['http://dead'], ['http://new']), 4, 'the four results move');
  await settle();
  t.strictSame(got, [0, 1, 2, 3].map((n) => ['http://new', 'up', n]), 'delivered to the new peer, in order, without waiting for the old backoff');
  t.equal(ob.pending('up'), 1, 'the status report stays queued for its own destination');
  t.equal(ob.pending('other'), 1, 'another task is not touched');
  t.equal(ob.retarget('other', ['http://dead'], []), 0, 'no new destination: nothing moves (and nothing is dropped)');
  t.equal(ob.pending('other'), 1);
  t.equal((db.prepare('SELECT COUNT(*) AS n FROM outbox_sent').get() as { n: number }).n, 0, 'no retain predicate: acknowledged results are not kept');
  ob.close();
  mock.timers.reset();
  db.close();
});

t.test('M2: results a next stage acknowledged are kept (bounded) and can be sent again from a frame on', async (t) => {
  const db = new Database(path.join(t.testdir({}), 'o.db'));
  const got: Array<[string, number]> = [];
  const ob = new Outbox(db, async (d, _seq, m) => { got.push([d, ((m.body.MessageBody as { TaskResultData: { AnalysisResult: Array<{ ResultData: { Pts: number } }> } }).TaskResultData.AnalysisResult[0]?.ResultData.Pts ?? NaN)]); return { ok: true }; },
    log, (dest) => dest === 'http://next');
  ob.start();
  const result = (pts: number): OutboxMessage => ({ method: 'POST', path: '/System/Command', body: { CommandType: 'task_result', MessageBody: { TaskResultData: { AnalysisResult: [{ ResultData: { Pts: pts } }] } } } });
  // Interleaved with another task's results, which share the row ids.
  for (let i = 0; i < 2100; i++) { ob.enqueue(['http://next', 'http://scheduler'], 'up', result(i * 100)); ob.enqueue(['http://next'], 'other', result(i)); }
  // A status report to the same next stage is acknowledged but never kept: only results are replayed.
  ob.enqueue(['http://next'], 'report', { method: 'PATCH', path: '/System/TaskStatus/', body: { MessageBody: { TaskResultData: { AnalysisResult: [{ ResultData: { Pts: 0 } }] } } } });
  t.equal(await ob.flush('up', 20_000), 0, 'all delivered');
  await ob.flush('other', 20_000);
  await ob.flush('report', 20_000);
  t.equal((db.prepare("SELECT COUNT(*) AS n FROM outbox_sent WHERE task_id = 'report'").get() as { n: number }).n, 0, 'a report is not kept');
  const kept = (db.prepare("SELECT COUNT(*) AS n FROM outbox_sent WHERE task_id = 'up'").get() as { n: number }).n;
  t.equal(kept, 2000, 'only what went to the next stage is kept, and only the task\'s last 2000');
  got.length = 0;
  t.equal(ob.replay('up', ['http://moved'], 209_500), 5, 'frames at or after 209.5 s');
  t.equal(ob.replay('up', ['http://nowhere'], 0), 2000, 'at most what is kept');
  db.prepare("DELETE FROM outbox WHERE dest_url = 'http://nowhere'").run();
  // replay() starts the delivery itself (polled, not flushed: flush would kick the pump).
  await waitFor('the replayed results', async () => (got.length === 5 ? true : undefined), 10_000, 10);
  t.strictSame(got, [209_500, 209_600, 209_700, 209_800, 209_900].map((p) => ['http://moved', p]), 'sent again to the new stage, in order');
  ob.close();
  db.close();
});

// The cases below were found by mutation testing (docs/MUTATION.md): each pins a behaviour that a
// change to outbox.ts survived before. The clock is node:test's MockTimers, so "not before 500 ms"
// is exact and nothing waits on the wall clock.

/** Mocks setTimeout and Date from `now`; returns a settle() that runs what is due now and lets its sends finish. */
function mockClock(t: Test, now = Date.UTC(2026, 0, 1)) {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now });
  t.teardown(() => mock.timers.reset());
  return async () => { for (let i = 0; i < 50; i++) { mock.timers.tick(0); await new Promise((r) => setImmediate(r)); } };
}

t.test('ED4: retries back off 500 ms, 1 s, 2 s … capped at 30 s, measured from each failure', async (t) => {
  const settle = mockClock(t);
  const db = new Database(path.join(t.testdir({}), 'o.db'));
  let tries = 0;
  const ob = new Outbox(db, async () => { tries++; throw new Error('ECONNREFUSED'); }, log);
  ob.start();
  ob.enqueue(['http://peer'], 't', msg(1));
  await settle();
  t.equal(tries, 1, 'tried at once');
  const step = async (ms: number) => { mock.timers.tick(ms); await settle(); return tries; };
  t.equal(await step(499), 1, 'not again before 500 ms');
  t.equal(await step(1), 2, 'again at 500 ms');
  t.equal(await step(999), 2, 'then not before 1 s');
  t.equal(await step(1), 3, 'again at 1 s');
  t.equal(await step(1999), 3);
  t.equal(await step(1), 4, 'again at 2 s');
  t.equal((db.prepare('SELECT attempts FROM outbox').get() as { attempts: number }).attempts, 4, 'the attempts are counted on disk (a restart keeps the backoff)');
  // Many attempts later the wait is the cap, not 250 ms × 2^attempts.
  db.prepare('UPDATE outbox SET attempts = 40').run();
  t.equal(await step(4000), 5, 'the 2 s wait (set before) ran out');
  t.equal(await step(29_999), 5, 'then not before 30 s');
  t.equal(await step(1), 6, 'again at 30 s');
  ob.close();
  db.close();
});

t.test('ED4: a pump wakes for the earliest due destination, not the latest', async (t) => {
  const settle = mockClock(t);
  const db = new Database(path.join(t.testdir({}), 'o.db'));
  const tries: Record<string, number> = { 'http://a': 0, 'http://b': 0 };
  const ob = new Outbox(db, async (d) => { tries[d] = (tries[d] ?? 0) + 1; throw new Error('ECONNREFUSED'); }, log);
  ob.start();
  ob.enqueue(['http://a'], 't', msg(1));
  await settle();
  mock.timers.tick(300);
  ob.enqueue(['http://b'], 't', msg(2));
  await settle();
  t.strictSame(tries, { 'http://a': 1, 'http://b': 1 }, 'a waits until 500 ms, b (failed at 300 ms) until 800 ms');
  mock.timers.tick(200);
  await settle();
  t.strictSame(tries, { 'http://a': 2, 'http://b': 1 }, 'a retried when it was due, 200 ms later, not when b is');
  ob.close();
  db.close();
});

t.test('work queued while a send is in flight is picked up when that send ends, for a new destination too', async (t) => {
  const db = new Database(path.join(t.testdir({}), 'o.db'));
  const got: string[] = [];
  let release!: () => void;
  const held = new Promise<void>((r) => { release = r; });
  let sending = false;
  const ob = new Outbox(db, async (d) => { if (d === 'http://slow') { sending = true; await held; } got.push(d); return { ok: true }; }, log);
  ob.start();
  ob.enqueue(['http://slow'], 't', msg(1));
  await waitFor('the slow send to start', async () => (sending ? true : undefined), 5000, 5);
  ob.enqueue(['http://fast'], 'u', msg(2));
  // Let the timers due now fire while the send is still held: a pump started now must not run
  // beside the one in flight, and the work must not be forgotten either.
  await new Promise((r) => setTimeout(r, 20));
  release();
  // No flush (it would kick the pump itself): only the outbox's own "go round again" sends it.
  await waitFor('the message queued during the send', async () => (got.includes('http://fast') ? true : undefined), 10_000, 10);
  t.strictSame(got, ['http://slow', 'http://fast']);
  ob.close();
  db.close();
});

t.test('a closed outbox sends nothing more, and its flush returns at once with what is left', async (t) => {
  const settle = mockClock(t);
  const db = new Database(path.join(t.testdir({}), 'o.db'));
  let tries = 0;
  const ob = new Outbox(db, async () => { tries++; return { ok: true }; }, log);
  ob.close();
  ob.enqueue(['http://peer'], 't', msg(1));
  ob.start();
  await settle();
  t.equal(tries, 0, 'nothing sent after close');
  let left: number | undefined;
  void ob.flush('t', 3_600_000).then((n) => { left = n; });
  await settle();
  t.equal(left, 1, 'flush did not wait for its hour (the mocked clock stood still)');
  db.close();
});

t.test('M2: acknowledged results older than 10 minutes are dropped (checked every 100 acknowledgements)', async (t) => {
  const settle = mockClock(t);
  const db = new Database(path.join(t.testdir({}), 'o.db'));
  const ob = new Outbox(db, async () => ({ ok: true }), log, () => true);
  ob.start();
  const result = (n: number): OutboxMessage => ({ method: 'POST', path: '/System/Command', body: { CommandType: 'task_result', n } });
  const kept = () => (db.prepare('SELECT COUNT(*) AS n FROM outbox_sent').get() as { n: number }).n;
  for (let i = 0; i < 99; i++) ob.enqueue(['http://next'], 'up', result(i));
  await settle();
  t.equal(kept(), 99);
  mock.timers.tick(10 * 60_000);
  ob.enqueue(['http://next'], 'up', result(99));
  await settle();
  t.equal(kept(), 100, 'exactly 10 minutes old: still kept');
  mock.timers.tick(1);
  for (let i = 100; i < 199; i++) ob.enqueue(['http://next'], 'up', result(i));
  await settle();
  t.equal(kept(), 199, 'older, but no check before the 200th acknowledgement');
  ob.enqueue(['http://next'], 'up', result(199));
  await settle();
  t.equal(kept(), 101, 'the 200th drops the 99 acknowledged more than 10 minutes ago');
  ob.close();
  db.close();
});

t.test('close() while a send is in flight: that send ends, nothing after it is sent', async (t) => {
  const db = new Database(path.join(t.testdir({}), 'o.db'));
  const got: number[] = [];
  let release!: () => void;
  const held = new Promise<void>((r) => { release = r; });
  let sending = false;
  const ob = new Outbox(db, async (_d, _s, m) => { sending = true; await held; got.push(m.body.n as number); return { ok: true }; }, log);
  ob.start();
  ob.enqueue(['http://peer'], 't', msg(1));
  ob.enqueue(['http://peer'], 't', msg(2));
  await waitFor('the first send to start', async () => (sending ? true : undefined), 5000, 5);
  ob.close();
  release();
  await new Promise((r) => setTimeout(r, 50));
  t.strictSame(got, [1], 'the second message was not sent');
  t.equal(ob.pending('t'), 1, 'and stays queued for the next start');
  db.close();
});

t.test('retarget moves only what went to a destination that is gone, to the ones that are new', async (t) => {
  const db = new Database(path.join(t.testdir({}), 'o.db'));
  // Not started: nothing is sent, the queue is read as it stands.
  const ob = new Outbox(db, async () => ({ ok: true }), log);
  const result = (n: number): OutboxMessage => ({ method: 'POST', path: '/System/Command', body: { CommandType: 'task_result', n } });
  const dests = () => (db.prepare('SELECT dest_url FROM outbox ORDER BY dest_url').all() as Array<{ dest_url: string }>).map((r) => r.dest_url);
  ob.enqueue(['http://a', 'http://b'], 'up', result(1));
  t.equal(ob.retarget('up', ['http://a', 'http://b'], ['http://a', 'http://c']), 1, 'only b\'s copy moves');
  t.strictSame(dests(), ['http://a', 'http://c'], 'a keeps its own copy and gets no second one');
  t.equal(ob.retarget('up', ['http://a', 'http://c'], ['http://d']), 2, 'two destinations gone at once');
  t.strictSame(dests(), ['http://d', 'http://d']);
  ob.close();
  db.close();
});

t.test('a normal delivery logs no error', async (t) => {
  const db = new Database(path.join(t.testdir({}), 'o.db'));
  const lines: Array<{ level: number; msg: string }> = [];
  const capture = pino({ level: 'info' }, { write: (l: string) => { lines.push(JSON.parse(l)); } });
  const ob = new Outbox(db, async () => ({ ok: true }), capture);
  ob.start();
  ob.enqueue(['http://peer'], 't', msg(1));
  t.equal(await ob.flush('t', 5000), 0);
  t.strictSame(lines.filter((l) => l.level >= 40), [], 'no warning or error (the pump ran off the end of its queue cleanly)');
  ob.close();
  db.close();
});

t.test('the backlog is counted in memory: it follows every insert and delete and is right again after a restart', async (t) => {
  const file = path.join(t.testdir({}), 'o.db');
  let db = new Database(file);
  const counted = (task?: string) => (task === undefined ? db.prepare('SELECT COUNT(*) AS n FROM outbox').get() : db.prepare('SELECT COUNT(*) AS n FROM outbox WHERE task_id = ?').get(task)) as { n: number };
  let refuse = true;
  let ob = new Outbox(db, async (d, _s, m) => (m.body.n === 99 ? { ok: false, permanent: true, message: 'HTTP 400' } : refuse || d === 'http://dead' ? { ok: false, message: 'down' } : { ok: true }), log);
  const result = (n: number): OutboxMessage => ({ method: 'POST', path: '/System/Command', body: { CommandType: 'task_result', n } });
  for (let i = 0; i < 3; i++) ob.enqueue(['http://a', 'http://b'], 'up', result(i));
  ob.enqueue(['http://a'], 'other', msg(1));
  ob.enqueue([], 'none', msg(2));
  t.equal(ob.pending('up'), 6);
  t.equal(ob.pending('other'), 1);
  t.equal(ob.pending('none'), 0, 'no destination: nothing queued');
  t.equal(ob.pending(), 7);
  t.equal(ob.retarget('up', ['http://a', 'http://b'], ['http://a', 'http://c', 'http://dead']), 3, 'b\'s three copies move to two new destinations');
  t.equal(ob.pending('up'), counted('up').n, 'retarget counted');
  t.equal(ob.pending('up'), 9);
  ob.close();
  db.close();
  // A restart counts what was left once.
  db = new Database(file);
  ob = new Outbox(db, async (d, _s, m) => (m.body.n === 99 ? { ok: false, permanent: true, message: 'HTTP 400' } : refuse || d === 'http://dead' ? { ok: false, message: 'down' } : { ok: true }), log);
  t.equal(ob.pending('up'), 9, 'after a restart');
  t.equal(ob.pending(), 10);
  ob.enqueue(['http://a'], 'other', { method: 'POST', path: '/System/Command', body: { n: 99 } });
  refuse = false;
  ob.start();
  t.equal(await ob.flush('other', 10_000), 0, 'delivered, and the refused one dead-lettered');
  await waitFor('what can be delivered', async () => (ob.pending('up') === 3 ? true : undefined), 10_000, 10);
  t.equal(ob.pending('up'), counted('up').n, 'acknowledgements counted: the dead peer\'s three are left');
  t.equal(ob.pending(), counted().n);
  ob.close();
  db.close();
});

t.test('drained(): resolved by the deliveries once the task\'s backlog is down to the mark; at once when it is; on close; dropped on abort', async (t) => {
  const db = new Database(path.join(t.testdir({}), 'o.db'));
  const hold: Array<() => void> = [];
  const ob = new Outbox(db, async () => { await new Promise<void>((r) => hold.push(r)); return { ok: true }; }, log);
  ob.start();
  for (let i = 0; i < 5; i++) ob.enqueue(['http://peer'], 't', msg(i));
  let woke = false;
  const waiting = ob.drained('t', 2).then(() => { woke = true; });
  await ob.drained('t', 5);
  t.pass('at or under the mark: resolved at once');
  const release = async (n: number) => { for (let i = 0; i < n; i++) { await waitFor('a send', async () => (hold.length ? true : undefined), 5000, 1); hold.shift()!(); } };
  await release(2);
  await new Promise((r) => setTimeout(r, 20));
  t.equal(woke, false, 'three left: still waiting');
  await release(1);
  await waiting;
  t.equal(ob.pending('t'), 2, 'woken by the delivery that brought it to two');
  const ac = new AbortController();
  const aborted = ob.drained('t', 0, ac.signal);
  ac.abort();
  await aborted;
  t.pass('an aborted wait resolves and is dropped');
  const atClose = ob.drained('t', 0);
  ob.close();
  await atClose;
  t.pass('close wakes every waiter');
  for (const r of hold.splice(0)) r();
  db.close();
});

t.test('one serialisation: the sender gets the body as the text stored on disk; read as an object only on demand', async (t) => {
  const db = new Database(path.join(t.testdir({}), 'o.db'));
  const got: Array<{ json: string; method: string; path: string }> = [];
  const ob = new Outbox(db, async (_d, _s, m) => { got.push({ json: m.bodyJson, method: m.method, path: m.path }); return { ok: true }; }, log);
  const body = { CommandType: 'task_result', MessageBody: { TaskID: 'x', Text: 'quote " and \\ and 中文', N: [1, 2.5] } };
  ob.enqueue(['http://peer'], 't', { method: 'POST', path: '/System/Command', body });
  ob.enqueue(['http://peer'], 't', { method: 'PATCH', path: '/System/TaskStatus/', body: { DeviceID: 'd' } });
  // A row in another layout (written by something else) still goes out.
  db.prepare('INSERT INTO outbox (dest_url, task_id, body, created_at) VALUES (?, ?, ?, ?)').run('http://peer', 'u', JSON.stringify({ body: { n: 3 }, path: '/System/Command', method: 'POST' }), Date.now());
  const stored = (db.prepare('SELECT body FROM outbox ORDER BY id LIMIT 1').get() as { body: string }).body;
  t.equal(stored, JSON.stringify({ method: 'POST', path: '/System/Command', body }), 'stored as JSON.stringify would write it');
  ob.start();
  t.equal(await ob.flush('t', 5000), 0);
  await waitFor('the hand-written row', async () => (got.length === 3 ? true : undefined), 5000, 5);
  t.strictSame(got, [
    { json: JSON.stringify(body), method: 'POST', path: '/System/Command' },
    { json: '{"DeviceID":"d"}', method: 'PATCH', path: '/System/TaskStatus/' },
    { json: '{"n":3}', method: 'POST', path: '/System/Command' },
  ]);
  ob.close();
  db.close();
});

t.test('CommandIdx goes into the stored text as the spread did', async (t) => {
  const { withCommandIdx } = await import('../../src/runtime/routing.ts');
  for (const body of [{}, { CommandType: 'task_result', MessageBody: { A: [1, { B: '}' }] } }, { CommandIdx: 3, X: 1 }]) {
    t.strictSame(JSON.parse(withCommandIdx(JSON.stringify(body), 42)), { ...body, CommandIdx: 42 });
  }
});
