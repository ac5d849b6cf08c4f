/**
 * EC8: edge and cloud models co-evolve with nobody driving, across real processes. An edge runs
 * a weak digit classifier over traffic it never trained on, with AlgArgs.CoEvolve: its results
 * below the confidence threshold are kept as hard examples, and every `Every` of them the
 * scheduler itself submits a round — the cloud's stronger classifier labels the edge's hard set
 * (fetched from the edge's sample store) and the edge's algorithm is trained further on those
 * labels on the cloud, then published. No human label, no task submitted by the test after the
 * edge's: held-out accuracy of the edge model before and after the rounds. A malformed policy is
 * refused at intake naming the field and the rule.
 */
import t from 'tap';
import { waitFor, waitTaskEnd, type Cluster } from '../helpers/cluster.ts';
import { buildExamples, example, publish } from '../helpers/examples.ts';
import { allResults, haveDigits, loadDigits, serveSamples, split, subset } from '../helpers/digits.ts';
import { learningCluster, publishVariant, publishedVersions, submit } from '../helpers/learning.ts';

interface Summary { TaskID: string; TaskName: string; ExecutionStatus: number }
const taskList = async (c: Cluster): Promise<Summary[]> => ((await c.client.send('GET', `${c.scheduler.url}/System/TaskList?limit=500`)).body as { TaskList: Summary[] }).TaskList;

/** Held-out accuracy of AlgID `algId`'s newest version, classified on `device` (and the version results name). */
async function accuracy(c: Cluster, device: string, url: string, labels: ArrayLike<number>, algId: number): Promise<{ acc: number; versions: string[] }> {
  const id = await submit(c, 6, [{ DeviceID: device, StreamURL: url }], {}, algId);
  const end = await waitTaskEnd(c, id, 120_000);
  if (end.ExecutionStatus !== 0) throw new Error(`evaluation task ended ${JSON.stringify(end)}`);
  const rs = await allResults(c.client, c.scheduler.url, id);
  const ok = rs.filter((r) => (r.TaskResultData.AnalysisResult![0]!.ResultData as { Class: number; Pts: number }).Class === labels[(r.TaskResultData.AnalysisResult![0]!.ResultData as { Pts: number }).Pts]).length;
  return { acc: ok / labels.length, versions: [...new Set(rs.map((r) => r.AlgVersion))] };
}

t.test('EC8: the edge model co-evolves by itself (automatic label-and-train rounds on its hard examples)', { skip: haveDigits() ? false : 'opencv-doc (digits.png) is not installed' }, async (t) => {
  t.equal(buildExamples(), 0, 'example plugins built');
  const dir = t.testdir({});
  const digits = await loadDigits();
  const { heldOut, pool } = split(digits);
  const held = subset(digits, heldOut);
  // The edge's traffic: 800 digits of the pool it never trained on (its model saw 200 others).
  const data = await serveSamples({ pooled: subset(digits, pool), small: subset(digits, pool.filter((_, k) => k % 20 === 0)), traffic: subset(digits, pool.filter((_, k) => k % 5 === 2)), heldout: held });
  t.teardown(() => data.close());
  const { cluster } = await learningCluster(dir, 2);
  t.teardown(() => cluster.stop());
  const [cloud, edge] = cluster.executorIds as [string, string];
  t.equal(publish(cluster, example('digit_classifier-1.0.0')).status, 0, 'cloud classifier 1.0.0 published');
  publishVariant(cluster, 2202, 'digit_classifier_edge');
  for (const [algId, set] of [[2202, 'small'], [2201, 'pooled']] as const) {
    const id = await submit(cluster, 7, [{ DeviceID: cloud, StreamURL: data.url(set) }], { Epochs: 5 }, algId);
    t.equal((await waitTaskEnd(cluster, id, 120_000)).ExecutionStatus, 0, `AlgID ${algId} trained on ${set}`);
    await waitFor(`AlgID ${algId} 1.0.1`, async () => ((await publishedVersions(cluster, algId)).includes('1.0.1') ? true : undefined), 15_000);
  }

  // Refused at intake, naming the field and the rule.
  for (const [args, rule] of [
    [{ CoEvolve: { TeacherAlgID: 2201, Every: 10 } }, /AlgArgs\.CoEvolve: needs AlgArgs\.HardExampleThreshold/],
    [{ HardExampleThreshold: 0.6, CoEvolve: { TeacherAlgID: 2201, Every: 0 } }, /AlgArgs\.CoEvolve: .*Every.*>= 1/],
    [{ HardExampleThreshold: 0.6, CoEvolve: { Every: 10 } }, /AlgArgs\.CoEvolve: .*TeacherAlgID/],
    [{ HardExampleThreshold: 0.6, HardExampleSet: '../x', CoEvolve: { TeacherAlgID: 2201, Every: 10 } }, /HardExampleSet must be/],
  ] as const) {
    const r = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, { TaskName: 'bad', TaskType: 6, Constraints: { DeployOn: 'input-device' }, InitiationInfo: { DeviceID: 'learning-test', CustomInfo: { AlgID: 2202, AlgArgs: args, Inputs: [{ DeviceID: edge, StreamURL: data.url('traffic') }] } } });
    t.match((r.body as { StatusCode: string; Message: string }), { StatusCode: '1', Message: rule }, `refused: ${JSON.stringify(args)}`);
  }

  const before = await accuracy(cluster, edge, data.url('heldout'), held.labels, 2202);
  t.strictSame(before.versions, ['1.0.1'], 'the edge model before: 1.0.1');

  const student = await submit(cluster, 6, [{ DeviceID: edge, StreamURL: data.url('traffic') }], { HardExampleThreshold: 0.6, CoEvolve: { TeacherAlgID: 2201, Every: 60, Epochs: 5 } }, 2202);
  t.equal((await waitTaskEnd(cluster, student, 120_000)).ExecutionStatus, 0, 'the edge ran over its traffic');
  const hard = (await allResults(cluster.client, cluster.scheduler.url, student)).filter((r) => (r.TaskResultData.AnalysisResult![0]!.ResultData as { HardExample?: boolean }).HardExample).length;
  t.ok(hard >= 60, `${hard} hard examples (at least one round's worth)`);

  // The rounds: tasks the scheduler submitted, named for the task they teach; settled when all
  // have ended and no new one came for two looks in a row.
  let last = '';
  const rounds = await waitFor('the co-evolution rounds settle', async () => {
    const mine = (await taskList(cluster)).filter((x) => x.TaskName.startsWith('co-evolution') && x.TaskName.endsWith(student));
    const key = mine.map((x) => `${x.TaskID}:${x.ExecutionStatus}`).sort().join(',');
    const settled = mine.some((x) => / train: /.test(x.TaskName)) && mine.every((x) => x.ExecutionStatus === 0 || x.ExecutionStatus === 4) && key === last;
    last = key;
    return settled ? mine : undefined;
  }, 180_000, 1000);
  const trains = rounds.filter((x) => / train: /.test(x.TaskName));
  const labels = rounds.filter((x) => / label: /.test(x.TaskName));
  t.equal(labels.length, trains.length, `each round labelled, then trained: ${rounds.map((x) => x.TaskName.split(':')[0]).join(', ')}`);
  t.ok(rounds.every((x) => x.ExecutionStatus === 0), 'every round\'s task ended done');
  t.ok(trains.length >= 1 && trains.length <= Math.ceil(hard / 60), `${trains.length} round(s) for ${hard} hard examples at Every 60 (one in flight at a time)`);
  const versions = await publishedVersions(cluster, 2202);
  t.equal(versions.length, 2 + trains.length, `each round published a version: ${versions.join(', ')}`);
  const newest = versions.at(-1)!;

  const after = await accuracy(cluster, edge, data.url('heldout'), held.labels, 2202);
  t.strictSame(after.versions, [newest], `the edge model after: ${newest}`);
  t.comment(`FIGURE co-evolution loop: ${hard} hard examples of 800 traffic digits (threshold 0.6), ${trains.length} automatic round(s) at Every 60, edge model held-out ${before.acc.toFixed(4)} (1.0.1) -> ${after.acc.toFixed(4)} (${newest}), no human label`);
  t.ok(after.acc > before.acc + 0.03, `the edge model improved by itself: ${before.acc.toFixed(3)} → ${after.acc.toFixed(3)}`);
});
