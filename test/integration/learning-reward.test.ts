/**
 * DC6, DC7: reinforcement learning across device and cloud, and the device's feedback improving
 * the cloud model, across real processes. The cloud trains a weak digit classifier (200
 * samples); a device (DeviceType 0) gets that version and classifies a stream of digits it never
 * trained on, keeping each sample with the action it took (AlgArgs.FeedbackSet). The test, as
 * the application, says only whether each action was right (reward 1 or 0, no labels:
 * POST /System/Samples/{Set}/Feedback). The cloud fetches the device's feedback set (RDS2,
 * GET /System/Samples, checked by SHA-256) and trains from the device's version on the rewards
 * (AlgArgs.Objective "reward"); the next version is published. Held-out accuracy of the cloud
 * model before and after, and against supervised training on the same samples with their true
 * labels (an identical weak model under another AlgID, trained on the same set once the
 * application has also given the labels).
 */
import t from 'tap';
import { request } from 'undici';
import { waitFor, waitTaskEnd, type Cluster } from '../helpers/cluster.ts';
import { buildExamples, example, publish } from '../helpers/examples.ts';
import { accuracyBy, allResults, haveDigits, loadDigits, serveSamples, split, subset } from '../helpers/digits.ts';
import { learningCluster, publishedVersions, publishVariant, submit } from '../helpers/learning.ts';
import { decodeSamples, NO_LABEL } from '../../src/plugins/train-blob.ts';

/** POSTs feedback to an executor's set; the status and reply. */
async function feedback(c: Cluster, executorUrl: string, set: string, entries: unknown[]): Promise<{ status: number; body: { StatusCode: string; Applied?: number; Unmatched?: number[]; Message?: string } }> {
  const r = await request(`${executorUrl}/System/Samples/${set}/Feedback`, { method: 'POST', headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ Feedback: entries }) });
  return { status: r.statusCode, body: await r.body.json() as { StatusCode: string; Applied?: number; Unmatched?: number[] } };
}

t.test('DC6, DC7: a device\'s rewards for what its model did (no labels) train the cloud model further (reinforcement from bandit feedback); held-out accuracy rises', { skip: haveDigits() ? false : 'opencv-doc (digits.png) is not installed' }, async (t) => {
  t.equal(buildExamples(), 0, 'example plugins built');
  const dir = t.testdir({});
  const digits = await loadDigits();
  const { heldOut, pool } = split(digits);
  const held = subset(digits, heldOut);
  const small = subset(digits, pool.filter((_, k) => k % 20 === 0));
  // The device's traffic: 1,000 pool digits the weak model never trained on.
  const stream = subset(digits, pool.filter((_, k) => k % 20 !== 0 && k % 4 === 1));
  const data = await serveSamples({ small, stream, heldout: held });
  t.teardown(() => data.close());
  const { cluster } = await learningCluster(dir, 2, (i) => (i === 1 ? 2 : 0));
  t.teardown(() => cluster.stop());
  const [cloud, device] = cluster.executorIds as [string, string];
  t.equal(publish(cluster, example('digit_classifier-1.0.0')).status, 0, 'digit_classifier 1.0.0 published');
  publishVariant(cluster, 2203, 'digit_classifier_supervised');
  const train = async (algId: number, url: string, args: Record<string, unknown>, version: string) => {
    const id = await submit(cluster, 7, [{ DeviceID: cloud, StreamURL: url }], args, algId);
    const end = await waitTaskEnd(cluster, id, 120_000);
    t.equal(end.ExecutionStatus, 0, `AlgID ${algId} trained (${JSON.stringify(args)})`);
    await waitFor(`AlgID ${algId} ${version}`, async () => ((await publishedVersions(cluster, algId)).includes(version) ? true : undefined), 15_000);
    return (await allResults(cluster.client, cluster.scheduler.url, id))[0]!;
  };
  const heldOutAccuracy = async (algId: number) => {
    const id = await submit(cluster, 6, [{ DeviceID: cloud, StreamURL: data.url('heldout') }], {}, algId);
    t.equal((await waitTaskEnd(cluster, id, 120_000)).ExecutionStatus, 0, `held-out task of AlgID ${algId} done`);
    const by = [...accuracyBy(await allResults(cluster.client, cluster.scheduler.url, id), held.labels)];
    t.equal(by.length, 1, 'one version answered');
    return { version: by[0]![0].split(' ')[1]!, accuracy: by[0]![1].accuracy };
  };

  // The cloud's weak model, and an identical one (same data, same seeds) for the supervised comparison.
  await train(2201, data.url('small'), { Epochs: 5 }, '1.0.1');
  await train(2203, data.url('small'), { Epochs: 5 }, '1.0.1');
  const before = await heldOutAccuracy(2201);

  // The device acts: the cloud's version, pushed to it, classifies the stream and keeps what it did.
  const act = await submit(cluster, 6, [{ DeviceID: device, StreamURL: data.url('stream') }], { FeedbackSet: 'fb' });
  t.equal((await waitTaskEnd(cluster, act, 120_000)).ExecutionStatus, 0, 'the device classified its stream');
  const acted = (await allResults(cluster.client, cluster.scheduler.url, act)).map((r) => ({ v: r.AlgVersion, d: r.DeviceID, x: r.TaskResultData.AnalysisResult![0]!.ResultData as { Class: number; Pts: number } }));
  t.equal(acted.length, stream.labels.length, 'one result per digit');
  t.ok(acted.every((r) => r.v === '1.0.1' && r.d === device), 'on the device, with the cloud-trained version');
  const deviceAccuracy = acted.filter((r) => r.x.Class === stream.labels[r.x.Pts]).length / acted.length;

  // The application's verdict: right or wrong, nothing more. A Pts it never saw reaches nothing.
  const deviceUrl = cluster.executor(device).url;
  const rewards = acted.map((r) => ({ Pts: r.x.Pts, Reward: r.x.Class === stream.labels[r.x.Pts] ? 1 : 0 }));
  const given = await feedback(cluster, deviceUrl, 'fb', [...rewards, { Pts: 999_999, Reward: 1 }]);
  t.equal(given.status, 200, `feedback accepted: ${JSON.stringify(given.body).slice(0, 200)}`);
  t.equal(given.body.Applied, stream.labels.length, 'every result got its reward');
  t.strictSame(given.body.Unmatched, [999_999], 'the unknown Pts is named');

  // What the cloud will fetch: RDS2 with the actions and rewards, no labels.
  const served = await request(`${deviceUrl}/System/Samples/fb.rds`, { headers: { authorization: `Bearer ${cluster.token}` } });
  t.equal(served.statusCode, 200);
  const set = decodeSamples(Buffer.from(await served.body.arrayBuffer()));
  t.equal(set.labels.length, stream.labels.length, 'the set holds every sample with feedback');
  t.ok(set.labels.every((y) => y === NO_LABEL), 'and no label');
  t.ok(set.feedback!.actions.every((a, i) => a === acted.find((r) => r.x.Pts === set.feedback!.pts[i])!.x.Class), 'each with the action the device took');

  // DC6, DC7: the cloud learns from the device's rewards, from the version the device ran.
  const rl = await train(2201, `${deviceUrl}/System/Samples/fb.rds`, { Objective: 'reward', Epochs: 3 }, '1.0.2');
  const tm = rl.TaskResultData.AnalysisResult![0]!.ResultData!.TrainedModel as { Objective?: string; SampleCount: number; Metrics: { MeanReward?: number } };
  t.equal(rl.AlgVersion, '1.0.1', 'trained from the device\'s version');
  t.equal(tm.Objective, 'reward');
  t.equal(tm.SampleCount, stream.labels.length, 'on every rewarded sample');
  t.ok(Math.abs(tm.Metrics.MeanReward! - deviceAccuracy) < 1e-6, `the mean reward is the device's accuracy on its stream (${deviceAccuracy.toFixed(4)})`);
  const after = await heldOutAccuracy(2201);
  t.equal(after.version, '1.0.2');

  // The comparison: the same samples with their true labels, supervised, from the identical weak model.
  const labelled = await feedback(cluster, deviceUrl, 'fb', acted.map((r) => ({ Pts: r.x.Pts, Reward: r.x.Class === stream.labels[r.x.Pts] ? 1 : 0, Label: stream.labels[r.x.Pts] })));
  t.equal(labelled.body.Applied, stream.labels.length, 'the labels too');
  await train(2203, `${deviceUrl}/System/Samples/fb.rds`, { Epochs: 3 }, '1.0.2');
  const supervised = await heldOutAccuracy(2203);

  t.comment(`FIGURE reinforcement (DC6, DC7): cloud model ${before.version} ${before.accuracy.toFixed(4)} -> ${after.version} ${after.accuracy.toFixed(4)} after 3 epochs on the rewards of ${stream.labels.length} device results (mean reward ${deviceAccuracy.toFixed(4)}, no labels); supervised on the same samples with labels ${supervised.accuracy.toFixed(4)}`);
  t.ok(after.accuracy > before.accuracy + 0.04, `the device's rewards improve the cloud model: ${before.accuracy.toFixed(3)} → ${after.accuracy.toFixed(3)}`);
  t.ok(after.accuracy > supervised.accuracy - 0.05, `within 0.05 of supervised learning with labels (${supervised.accuracy.toFixed(3)})`);

  // A FeedbackSet that cannot be a set's name fails the task by name, before any frame.
  const bad = await waitTaskEnd(cluster, await submit(cluster, 6, [{ DeviceID: device, StreamURL: data.url('heldout') }], { FeedbackSet: '../fb' }), 60_000);
  t.equal(bad.ExecutionStatus, 4, 'a bad FeedbackSet fails the task');
  t.match(JSON.stringify(bad), /InputInfo\.AlgArgs\.FeedbackSet: \\"\.\.\/fb\\" must be 1\.\.64 letters/, 'naming the field');
});
