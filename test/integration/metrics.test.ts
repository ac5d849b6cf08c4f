/**
 * /metrics on both roles, judged by Prometheus' own tools (Debian's `prometheus` package):
 * a scheduler and an executor run a short motion-detection task, `promtool check metrics`
 * passes on what each serves, and a real Prometheus scrapes both with the node token as bearer
 * credentials from a file until both targets are up and a retinad series is stored.
 */
import t from 'tap';
import path from 'node:path';
import net from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { waitFor, waitTaskEnd } from '../helpers/cluster.ts';
import { buildExamples, example, publish, startExampleCluster } from '../helpers/examples.ts';
import { clip } from '../helpers/media.ts';

const have = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
}

async function getText(url: string, token?: string): Promise<{ status: number; text: string; type: string }> {
  const r = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: r.status, text: await r.text(), type: r.headers.get('content-type') ?? '' };
}

t.test('/metrics: promtool accepts both roles, a real Prometheus scrapes them', { skip: have('promtool') && have('prometheus') ? false : 'needs Debian\'s prometheus package (apt-get install prometheus)' }, async (t) => {
  t.equal(buildExamples(), 0, 'example plugins built');
  const dir = t.testdir({});
  // The scheduler serves /metrics without the token (--metrics-public); the executor wants it.
  const cluster = await startExampleCluster(dir, 1, { schedulerArgs: ['--metrics-public'] });
  t.teardown(() => cluster.stop());
  t.equal(publish(cluster, example('motion_detection-1.0.0')).status, 0, 'motion plugin published');
  const video = clip(path.join(dir, 'v.mp4'), { size: '640x360', seconds: 2 });
  // On a loaded machine (1 s keepalive) the executor can be offline for a moment: ask again until accepted.
  const id = await waitFor('the task to be accepted', async () => {
    const r = await cluster.client.send('POST', `${cluster.scheduler.url}/System/TaskRequest/`, {
      TaskName: 'metrics', TaskType: 6, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: pathToFileURL(video).href }], AlgType: 'motion_detection', TaskFrameRate: 5 } },
    });
    return (r.body as { TaskID?: string }).TaskID;
  }, 30_000, 250);
  t.ok(id, 'task accepted');
  const info = await waitTaskEnd(cluster, id, 60_000);
  t.equal(info.ExecutionStatus, 0, 'task done');

  const exe = cluster.executor(0).url;
  const sch = cluster.scheduler.url;
  t.equal((await getText(`${exe}/metrics`)).status, 401, 'executor /metrics needs the token');
  const em = await getText(`${exe}/metrics`, cluster.token);
  const sm = await getText(`${sch}/metrics`);
  t.equal(sm.status, 200, 'scheduler /metrics is public with --metrics-public');
  t.match(em.type, /^text\/plain; version=0\.0\.4/);
  // The ffmpeg pipe decodes and samples inside ffmpeg: only the native decoder counts decoded frames.
  const pipe = /^retinad_executor_decoder_info\{backend="ffmpeg-pipe"/m.test(em.text);
  for (const name of [...(pipe ? [] : ['retinad_executor_frames_decoded_total']), 'retinad_executor_frames_analysed_total', 'retinad_executor_stage_seconds_bucket',
    'retinad_executor_plugin_calls_total', 'retinad_executor_outbox_backlog', 'retinad_executor_tasks', 'retinad_executor_decoder_info', 'retinad_http_requests_total']) {
    t.match(em.text, new RegExp(`^${name}[{ ]`, 'm'), `executor serves ${name}`);
  }
  t.match(em.text, /^retinad_executor_stage_seconds_count\{stage="inference"\} [1-9]/m, 'inference latency observed');
  t.match(em.text, /^retinad_executor_tasks\{status="done"\} 1$/m, 'the task counted as done');
  for (const name of ['retinad_scheduler_tasks', 'retinad_scheduler_placement_seconds_bucket', 'retinad_scheduler_devices', 'retinad_scheduler_dispatch_failures_total']) {
    t.match(sm.text, new RegExp(`^${name}[{ ]`, 'm'), `scheduler serves ${name}`);
  }
  t.match(sm.text, /^retinad_scheduler_devices\{state="online"\} 1$/m, 'one executor online');
  t.match(sm.text, /^retinad_http_requests_total\{method="POST",route="\/System\/TaskRequest",status="200"\} 1$/m, 'HTTP requests by route pattern and status');

  for (const [role, m] of [['executor', em], ['scheduler', sm]] as const) {
    const c = spawnSync('promtool', ['check', 'metrics'], { input: m.text, encoding: 'utf8' });
    t.equal(c.status, 0, `promtool check metrics passes on the ${role}: ${c.stdout}${c.stderr}`);
  }

  // A real Prometheus, scraping both every second with the token from a file.
  const port = await freePort();
  const tokenFile = path.join(dir, 'token');
  writeFileSync(tokenFile, cluster.token, { mode: 0o600 });
  const host = (u: string) => new URL(u).host;
  writeFileSync(path.join(dir, 'prometheus.yml'), [
    'global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }',
    'scrape_configs:',
    ...([['retinad-scheduler', sch], ['retinad-executor', exe]] as const).flatMap(([job, u]) => [
      `  - job_name: ${job}`,
      `    authorization: { type: Bearer, credentials_file: ${tokenFile} }`,
      `    static_configs: [{ targets: ['${host(u)}'] }]`,
    ]),
  ].join('\n') + '\n');
  const prom = spawn('prometheus', [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'tsdb')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  prom.stderr.on('data', (c: Buffer) => { log += c.toString(); });
  const exited = new Promise<void>((resolve) => prom.once('exit', () => resolve()));
  t.teardown(async () => { prom.kill('SIGTERM'); await exited; });
  const query = async (q: string) => {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`);
      return (await r.json()) as { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
    } catch {
      return undefined; // not listening yet
    }
  };
  const up = await waitFor('Prometheus to see both targets up', async () => {
    if (prom.exitCode !== null) throw new Error(`prometheus exited: ${log}`);
    const res = (await query('up'))?.data.result ?? [];
    return res.length === 2 && res.every((x) => x.value[1] === '1') ? res : undefined;
  }, 60_000, 250);
  t.same(up.map((x) => x.metric.job).sort(), ['retinad-executor', 'retinad-scheduler'], 'both roles scraped and up');
  const frames = await waitFor('a retinad series in Prometheus', async () => {
    const res = (await query('retinad_executor_frames_analysed_total'))?.data.result ?? [];
    return res.length ? res : undefined;
  }, 30_000, 250);
  t.equal(frames[0]?.metric.task, info.SubtaskInfoList?.[0]?.TaskDispatchInfo.TaskID, 'per-task frame counter stored, labelled by the executor\'s TaskID');
});
