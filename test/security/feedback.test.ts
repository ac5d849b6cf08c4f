/**
 * DC7: the feedback route (`POST /System/Samples/{Set}/Feedback`) is guarded and bounded. No
 * token or a wrong one is refused; a Set name that walks out of the store (encoded `..`,
 * slashes) is refused by the schema and reaches no file; oversized bodies, too many entries,
 * non-finite, huge, negative or non-numeric rewards, Pts and labels out of range are refused
 * with the field named — and the executor goes on serving, its set unchanged.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { Executor } from '../../src/runtime/executor.ts';
import { createExecutorServer } from '../../src/api/executor-server.ts';
import { FEEDBACK_MAX_ENTRIES } from '../../src/protocol/index.ts';
import { TEST_EXECUTOR_OPTIONS } from '../helpers/nodes.ts';

const log = pino({ level: 'silent' });
const token = 'feedback-test-token';

t.test('DC7: feedback is refused without the node token, outside the store, oversized or out of range, naming the field', async (t) => {
  const dir = t.testdir({});
  const e = new Executor({ ...TEST_EXECUTOR_OPTIONS, deviceId: 'device', dataDir: path.join(dir, 'device'), commandUrl: 'http://unused', token, log });
  const app = createExecutorServer(e, { log, token });
  t.teardown(async () => { await app.close(); await e.close(); });
  for (let i = 0; i < 4; i++) e.feedback.keep('fb', Float32Array.from([i / 4, 0.5]), i % 3, i * 40, 3);
  const post = (url: string, payload: unknown, auth: string | null = `Bearer ${token}`) => app.inject({ method: 'POST', url, payload: typeof payload === 'string' ? payload : JSON.stringify(payload), headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) } });
  const ok = { Feedback: [{ Pts: 40, Reward: 1 }] };

  t.equal((await post('/System/Samples/fb/Feedback', ok, null)).statusCode, 401, 'no token: 401');
  t.equal((await post('/System/Samples/fb/Feedback', ok, 'Bearer not-the-token')).statusCode, 401, 'a wrong token: 401');

  for (const name of ['..%2F..%2Fetc%2Fpasswd', '..', '%2e%2e', 'fb%00', 'a'.repeat(65), 'fb.rds', '..%5C..%5Cwin']) {
    const r = await post(`/System/Samples/${name}/Feedback`, ok);
    t.ok(r.statusCode === 400 || r.statusCode === 404, `Set "${name}": ${r.statusCode} ${r.json().Message}`);
    if (r.statusCode === 400) t.match(r.json().Message, /^Set: /, 'naming Set');
  }
  t.notOk(existsSync(path.join(dir, 'etc')) || existsSync(path.join(dir, 'device', 'etc')), 'no file outside the store');

  const cases: Array<[string, unknown, number, RegExp]> = [
    ['a body over 1 MiB', `{"Feedback":[${'{"Pts":1,"Reward":1},'.repeat(60_000)}{"Pts":1,"Reward":1}]}`, 413, /./],
    [`${FEEDBACK_MAX_ENTRIES + 1} entries`, { Feedback: Array.from({ length: FEEDBACK_MAX_ENTRIES + 1 }, () => ({ Pts: 1, Reward: 1 })) }, 400, /^Feedback: /],
    ['no entries', { Feedback: [] }, 400, /^Feedback: /],
    ['NaN (not JSON)', '{"Feedback":[{"Pts":40,"Reward":NaN}]}', 400, /body: malformed JSON/],
    ['a huge reward', { Feedback: [{ Pts: 40, Reward: 1e308 }] }, 400, /^Feedback\[0\]\.Reward: /],
    ['a negative reward', { Feedback: [{ Pts: 40, Reward: -0.5 }] }, 400, /^Feedback\[0\]\.Reward: /],
    ['a reward as text', { Feedback: [{ Pts: 40, Reward: 'NaN' }] }, 400, /^Feedback\[0\]\.Reward: /],
    ['a negative Pts', { Feedback: [{ Pts: -1, Reward: 1 }] }, 400, /^Feedback\[0\]\.Pts: /],
    ['a Pts past 2^53', { Feedback: [{ Pts: 1e300, Reward: 1 }] }, 400, /^Feedback\[0\]\.Pts: /],
    ['label 255 (no class)', { Feedback: [{ Pts: 40, Reward: 1, Label: 255 }] }, 400, /^Feedback\[0\]\.Label: /],
    ['a label past the set\'s classes', { Feedback: [{ Pts: 40, Reward: 1 }, { Pts: 80, Reward: 1, Label: 3 }] }, 400, /^Feedback\[1\]\.Label: 3 is not a class below 3/],
    ['an unknown field', { Feedback: [{ Pts: 40, Reward: 1, Weight: 100 }] }, 400, /Feedback\[0\]/],
    ['an unknown set', ok, 404, /^Set: no feedback set/],
  ];
  for (const [what, body, status, message] of cases) {
    const r = await post(what === 'an unknown set' ? '/System/Samples/other/Feedback' : '/System/Samples/fb/Feedback', body);
    t.equal(r.statusCode, status, `${what}: ${status}`);
    t.match(r.json().Message, message, `${what}: ${r.json().Message}`);
  }
  t.strictSame(e.feedback.count('fb'), { kept: 4, withFeedback: 0 }, 'nothing refused changed the set (all or nothing)');
  const good = await post('/System/Samples/fb/Feedback', ok);
  t.equal(good.statusCode, 200, 'the executor still serves');
  t.strictSame(good.json(), { StatusCode: '0', Applied: 1, Unmatched: [] });
});
