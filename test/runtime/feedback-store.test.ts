/**
 * DC7: a device's feedback store keeps what its model did (features, action, Pts) bounded — the
 * oldest go first — takes rewards and labels by Pts (the newest sample with that Pts), serves
 * only the samples that got feedback (RDS2), and keeps both kinds across a restart; a
 * FeedbackSet that is not a set name is refused naming the field.
 */
import t from 'tap';
import { FeedbackError, FeedbackStore } from '../../src/runtime/feedback-store.ts';
import { decodeSamples, NO_LABEL } from '../../src/plugins/train-blob.ts';
import { feedbackSetArg } from '../../src/runtime/runners/feedback.ts';

t.test('DC7: kept samples wait for feedback by Pts; only those with feedback are served; bounded; a restart keeps both', async (t) => {
  const dir = t.testdir({});
  const s = new FeedbackStore(dir, 3);
  for (let i = 0; i < 5; i++) s.keep('fb', Float32Array.from([i / 10, 0]), i % 3, i * 40, 3);
  t.strictSame(s.count('fb'), { kept: 3, withFeedback: 0 }, 'bounded at 3, none with feedback yet');
  t.equal(s.read('fb'), undefined, 'nothing to serve before feedback');
  t.strictSame(s.give('fb', [{ Pts: 80, Reward: 1 }, { Pts: 160, Reward: 0, Label: 2 }, { Pts: 0, Reward: 1 }]), { Applied: 2, Unmatched: [0] }, 'Pts 0 went with the oldest sample');
  const served = decodeSamples(s.read('fb')!.bytes);
  t.strictSame(Array.from(served.feedback!.pts), [80, 160], 'served: the samples with feedback');
  t.strictSame(Array.from(served.feedback!.actions), [2, 1]);
  t.strictSame(Array.from(served.feedback!.rewards), [1, 0]);
  t.strictSame(Array.from(served.labels), [NO_LABEL, 2]);
  s.keep('fb', Float32Array.from([0.9, 0]), 0, 80, 3);
  t.strictSame(s.give('fb', [{ Pts: 80, Reward: 0 }]), { Applied: 1, Unmatched: [] }, 'a repeated Pts: the newest sample gets it');
  t.strictSame(Array.from(decodeSamples(s.read('fb')!.bytes).feedback!.rewards), [0, 0], 'the newer one (the older Pts 80 went as the oldest)');
  s.flush();
  const again = new FeedbackStore(dir, 3);
  t.strictSame(again.count('fb'), { kept: 3, withFeedback: 2 }, 'a new store reads both kinds back');
  t.ok(again.read('fb')!.bytes.equals(s.read('fb')!.bytes), 'and serves the same bytes');
  t.throws(() => s.give('fb', [{ Pts: 160, Reward: 1, Label: 3 }]), { name: 'FeedbackError', statusCode: 400, message: /Feedback\[0\]\.Label: 3 is not a class below 3/ });
  t.throws(() => s.give('nope', [{ Pts: 1, Reward: 1 }]), { name: 'FeedbackError', statusCode: 404, message: /Set: no feedback set "nope" here/ });
  t.throws(() => s.give('../fb', [{ Pts: 1, Reward: 1 }]), FeedbackError, 'a name that is not one reaches no file');
  t.throws(() => s.keep('../etc', new Float32Array(2), 0, 0, 3), /feedback set "\.\.\/etc": letters, digits, _ and - only/);
  t.throws(() => s.keep('fb', new Float32Array(3), 0, 0, 3), /3 features, the set holds 2/);
  t.throws(() => s.keep('big', new Float32Array(2), 0, 0, 256), /256 classes, a feedback set holds 2\.\.255/);
});

t.test('DC7: AlgArgs.FeedbackSet must be a set name', async (t) => {
  t.equal(feedbackSetArg({}), undefined);
  t.equal(feedbackSetArg({ FeedbackSet: 'fb-1' }), 'fb-1');
  for (const bad of ['../x', '', 'a'.repeat(65), 7, null]) t.throws(() => feedbackSetArg({ FeedbackSet: bad }), /InputInfo\.AlgArgs\.FeedbackSet: .* must be 1\.\.64 letters, digits, _ or -/, JSON.stringify(bad));
});
