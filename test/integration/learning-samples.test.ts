/**
 * DC4, EC5: hard-example mining and samples flowing up, across real processes. An edge runs a
 * weak digit classifier over its frames; each result below the confidence threshold is marked a
 * hard example and its sample kept in the edge's bounded store. The cloud executor's stronger
 * classifier fetches that set on demand from the edge (GET /System/Samples, in ranges, checked
 * by SHA-256) — through a link that is cut once mid-transfer, so the fetch resumes — and
 * classifies the hard examples again: joint accuracy against the edge alone. A corrupted
 * transfer is refused naming the checksum.
 */
import t from 'tap';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { request } from 'undici';
import { waitFor, waitTaskEnd } from '../helpers/cluster.ts';
import { buildExamples, example, publish } from '../helpers/examples.ts';
import { allResults, haveDigits, loadDigits, serveSamples, split, subset } from '../helpers/digits.ts';
import { learningCluster, publishVariant, submit } from '../helpers/learning.ts';
import { decodeSamples } from '../../src/plugins/train-blob.ts';
import type { TaskResultBody } from '../../src/protocol/index.ts';

/** A forwarding proxy to `target` that adds the node token; `mode` cuts the first answer halfway or flips a byte. */
async function flakyLink(target: string, token: string, mode: 'cut' | 'corrupt'): Promise<{ url: string; requests: Array<Record<string, unknown>>; close(): void }> {
  const requests: Array<Record<string, unknown>> = [];
  const srv = http.createServer((req, res) => {
    requests.push({ range: req.headers.range, ifRange: req.headers['if-range'] });
    const first = requests.length === 1;
    const up = http.request(`${target}${req.url}`, { method: req.method, headers: { ...req.headers, host: new URL(target).host, authorization: `Bearer ${token}` } }, (r) => {
      const body: Buffer[] = [];
      r.on('data', (c: Buffer) => body.push(c));
      r.on('end', () => {
        const b = Buffer.concat(body);
        res.writeHead(r.statusCode ?? 502, r.headers);
        if (mode === 'cut' && first) { res.write(b.subarray(0, b.length >> 1)); setTimeout(() => res.destroy(), 20); return; }
        if (mode === 'corrupt' && b.length > 100) b[100] = b[100]! ^ 0xff;
        res.end(b);
      });
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(srv.address() as { port: number }).port}`, requests, close: () => { srv.closeAllConnections(); srv.close(); } };
}

t.test('DC4, EC5, DC6, EC8: edge hard examples go to a stronger cloud stage (fetched in checked, resumed ranges); joint accuracy rises; the edge learns from the cloud\'s labels', { skip: haveDigits() ? false : 'opencv-doc (digits.png) is not installed' }, async (t) => {
  t.equal(buildExamples(), 0, 'example plugins built');
  const dir = t.testdir({});
  const digits = await loadDigits();
  const { heldOut, pool } = split(digits);
  const held = subset(digits, heldOut);
  const data = await serveSamples({ pooled: subset(digits, pool), small: subset(digits, pool.filter((_, k) => k % 20 === 0)), stream: subset(digits, pool.filter((_, k) => k % 20 === 10)), heldout: held });
  t.teardown(() => data.close());
  const { cluster } = await learningCluster(dir, 2);
  t.teardown(() => cluster.stop());
  const [cloud, edge] = cluster.executorIds as [string, string];
  t.equal(publish(cluster, example('digit_classifier-1.0.0')).status, 0, 'cloud classifier 1.0.0 published');
  publishVariant(cluster, 2202, 'digit_classifier_edge');
  const trained = async (algId: number, set: string, epochs: number) => {
    const id = await submit(cluster, 7, [{ DeviceID: cloud, StreamURL: data.url(set) }], { Epochs: epochs }, algId);
    t.equal((await waitTaskEnd(cluster, id, 120_000)).ExecutionStatus, 0, `AlgID ${algId} trained on ${set}`);
    await waitFor(`AlgID ${algId} 1.0.1`, async () => (((await cluster.client.send('GET', `${cluster.scheduler.url}/System/AlgorithmRepository`)).body as { AlgorithmList: Array<{ AlgID: number; AlgVersion: string }> }).AlgorithmList.some((x) => x.AlgID === algId && x.AlgVersion === '1.0.1') ? true : undefined), 15_000);
  };
  await trained(2202, 'small', 5); // the edge's weak model: 200 samples
  await trained(2201, 'pooled', 5); // the cloud's strong one

  const edgeTask = await submit(cluster, 6, [{ DeviceID: edge, StreamURL: data.url('heldout') }], { HardExampleThreshold: 0.6, HardExampleSet: 'hard' }, 2202);
  t.equal((await waitTaskEnd(cluster, edgeTask, 120_000)).ExecutionStatus, 0, 'the edge stage ran over its frames');
  const edgeResults = (await allResults(cluster.client, cluster.scheduler.url, edgeTask)).map((r) => r.TaskResultData.AnalysisResult![0]!.ResultData as { Class: number; Confidence: number; Pts: number; HardExample?: boolean }).sort((a, b) => a.Pts - b.Pts);
  t.equal(edgeResults.length, held.labels.length, 'one result per frame');
  const hard = edgeResults.filter((r) => r.HardExample);
  t.ok(hard.length > 0 && hard.every((r) => r.Confidence < 0.6) && edgeResults.filter((r) => !r.HardExample).every((r) => r.Confidence >= 0.6), `hard examples are exactly those below 0.6: ${hard.length} of ${edgeResults.length}`);

  // The set as the edge serves it: RDS1, its SHA-256 stated, ranges honoured.
  const edgeUrl = cluster.executor(edge).url;
  const whole = await request(`${edgeUrl}/System/Samples/hard.rds`, { headers: { authorization: `Bearer ${cluster.token}` } });
  t.equal(whole.statusCode, 200);
  const wholeBytes = Buffer.from(await whole.body.arrayBuffer());
  const stored = decodeSamples(wholeBytes);
  t.equal(stored.labels.length, hard.length, 'every hard example is in the store');

  // The cloud stage: fetched on demand through a link that is cut once.
  const link = await flakyLink(edgeUrl, cluster.token, 'cut');
  t.teardown(() => link.close());
  const cloudTask = await submit(cluster, 6, [{ DeviceID: cloud, StreamURL: `${link.url}/System/Samples/hard.rds` }]);
  t.equal((await waitTaskEnd(cluster, cloudTask, 120_000)).ExecutionStatus, 0, 'the cloud stage classified the hard examples');
  t.ok(link.requests.length >= 2 && typeof link.requests[1]!.range === 'string' && /^bytes=\d+-$/.test(link.requests[1]!.range as string) && link.requests[1]!.ifRange, `the fetch resumed after the cut: ${JSON.stringify(link.requests)}`);
  const cloudResults = (await allResults(cluster.client, cluster.scheduler.url, cloudTask)).map((r: TaskResultBody) => r.TaskResultData.AnalysisResult![0]!.ResultData as { Class: number; Pts: number }).sort((a, b) => a.Pts - b.Pts);
  t.equal(cloudResults.length, hard.length, 'one cloud result per hard example');

  const edgeAlone = edgeResults.filter((r) => r.Class === held.labels[r.Pts]).length / edgeResults.length;
  let k = 0;
  const joint = edgeResults.filter((r) => (r.HardExample ? cloudResults[k++]!.Class : r.Class) === held.labels[r.Pts]).length / edgeResults.length;
  t.comment(`FIGURE hard-example mining: threshold 0.6, hard share ${(hard.length / edgeResults.length).toFixed(4)} (${hard.length}/${edgeResults.length}), edge alone ${edgeAlone.toFixed(4)}, joint ${joint.toFixed(4)}`);
  t.ok(joint > edgeAlone + 0.02, `joint accuracy ${joint.toFixed(3)} above the edge alone ${edgeAlone.toFixed(3)}`);

  // DC6, EC8: the edge's model learns from hard examples of its own traffic (digits of the pool it
  // never trained on, not the held-out ones) as the cloud labelled them — no human labels: the
  // cloud stage files each under its answer (LabelSet), the edge trains on that set from the cloud.
  const mine = await submit(cluster, 6, [{ DeviceID: edge, StreamURL: data.url('stream') }], { HardExampleThreshold: 0.6, HardExampleSet: 'streamhard' }, 2202);
  t.equal((await waitTaskEnd(cluster, mine, 120_000)).ExecutionStatus, 0, 'the edge stage ran over its own traffic');
  const label = await submit(cluster, 6, [{ DeviceID: cloud, StreamURL: `${edgeUrl}/System/Samples/streamhard.rds` }], { LabelSet: 'taught' });
  t.equal((await waitTaskEnd(cluster, label, 120_000)).ExecutionStatus, 0, 'the cloud stage labelled those hard examples');
  const mined = (await allResults(cluster.client, cluster.scheduler.url, label)).length;
  const teach = await submit(cluster, 7, [{ DeviceID: edge, StreamURL: `${cluster.executor(cloud).url}/System/Samples/taught.rds` }], { Epochs: 5 }, 2202);
  t.equal((await waitTaskEnd(cluster, teach, 120_000)).ExecutionStatus, 0, 'the edge trained on the cloud-labelled hard examples');
  await waitFor('AlgID 2202 1.0.2', async () => (((await cluster.client.send('GET', `${cluster.scheduler.url}/System/AlgorithmRepository`)).body as { AlgorithmList: Array<{ AlgID: number; AlgVersion: string }> }).AlgorithmList.some((x) => x.AlgID === 2202 && x.AlgVersion === '1.0.2') ? true : undefined), 15_000);
  const again = await submit(cluster, 6, [{ DeviceID: edge, StreamURL: data.url('heldout') }], {}, 2202);
  t.equal((await waitTaskEnd(cluster, again, 120_000)).ExecutionStatus, 0);
  const taught = (await allResults(cluster.client, cluster.scheduler.url, again)).map((r) => ({ v: r.AlgVersion, d: r.TaskResultData.AnalysisResult![0]!.ResultData as { Class: number; Pts: number } }));
  t.ok(taught.every((x) => x.v === '1.0.2'), 'the edge runs its co-evolved version');
  const edgeAfter = taught.filter((x) => x.d.Class === held.labels[x.d.Pts]).length / taught.length;
  t.comment(`FIGURE co-evolution: edge model alone ${edgeAlone.toFixed(4)} -> after training on ${mined} hard examples of its own traffic as the cloud labelled them ${edgeAfter.toFixed(4)}`);
  t.ok(edgeAfter > edgeAlone + 0.03, `the edge alone improves: ${edgeAlone.toFixed(3)} → ${edgeAfter.toFixed(3)}`);

  // A transfer that arrives altered is refused by its checksum.
  const bad = await flakyLink(edgeUrl, cluster.token, 'corrupt');
  t.teardown(() => bad.close());
  const badTask = await submit(cluster, 6, [{ DeviceID: cloud, StreamURL: `${bad.url}/System/Samples/hard.rds` }]);
  const bi = await waitTaskEnd(cluster, badTask, 60_000);
  t.equal(bi.ExecutionStatus, 4, 'the corrupted fetch fails the task');
  t.match(JSON.stringify(bi), /SHA-256 [0-9a-f]+ does not match the stated/, 'naming the checksum');
  t.equal(createHash('sha256').update(wholeBytes).digest('hex'), whole.headers['x-content-sha256'], 'the stated SHA-256 is that of the bytes');
  const part = await request(`${edgeUrl}/System/Samples/hard.rds`, { headers: { authorization: `Bearer ${cluster.token}`, range: 'bytes=16-31' } });
  t.equal(part.statusCode, 206, 'a range is answered with 206');
  t.ok(Buffer.from(await part.body.arrayBuffer()).equals(wholeBytes.subarray(16, 32)), 'with exactly those bytes');
});
