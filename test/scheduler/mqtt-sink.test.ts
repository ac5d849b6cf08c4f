/**
 * Issue 16 item 6: results and status changes go to a real MQTT broker (Debian's mosquitto),
 * QoS 1, read by a real MQTT client (mosquitto_sub); while the broker is down they wait in the
 * scheduler's database and nothing is lost when it comes back.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import t from 'tap';
import { pino } from 'pino';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { ExecutionStatus, type TaskResultBody } from '../../src/protocol/index.ts';
import { waitFor } from '../helpers/cluster.ts';
import { fakeExecutor } from '../helpers/fake-executor.ts';

const log = pino({ level: 'silent' });
const MOSQUITTO = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => spawnSync(p, ['-h']).error === undefined) ?? 'mosquitto';

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** A mosquitto on `port` that keeps sessions and queued QoS 1 messages across its restarts. */
function broker(dir: string, port: number): ChildProcess {
  const conf = path.join(dir, 'mosquitto.conf');
  // Started as root, mosquitto drops to its own user, which may not reach the test's directory (a
  // clone under /root): it would then save nothing on restart and forget the subscriber's session.
  // `user` keeps it the user running the test (the option is ignored when that is not root).
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', `user ${os.userInfo().username}`, 'persistence true', `persistence_location ${dir}/`, 'log_dest none'].join('\n') + '\n');
  return spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
}

async function listening(port: number): Promise<void> {
  await waitFor(`mosquitto on ${port}`, () => new Promise<true | undefined>((res) => {
    const s = net.connect(port, '127.0.0.1', () => { s.destroy(); res(true); });
    s.on('error', () => res(undefined));
  }), 10_000, 50);
}

t.test('results and status go to MQTT with QoS 1; a broker restart loses none of them (issue 16)', async (t) => {
  const dir = t.testdir({ broker: {} });
  const port = await freePort();
  let mosq = broker(path.join(dir, 'broker'), port);
  await listening(port);
  // A real MQTT client, with a persistent session of its own: it misses nothing either.
  const lines: string[] = [];
  const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-q', '1', '-c', '-i', 'test-sub', '-t', 'site/#', '-v'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let buf = '';
  sub.stdout!.on('data', (c: Buffer) => { buf += c.toString(); const parts = buf.split('\n'); buf = parts.pop() ?? ''; lines.push(...parts); });
  await new Promise((r) => setTimeout(r, 500)); // subscribed

  // An executor that takes every dispatch (the scheduler needs one to accept a task).
  const edge = await fakeExecutor('edge');
  const s = new Scheduler({ deviceId: 'sched-7', dataDir: path.join(dir, 'sched'), publicUrl: 'http://127.0.0.1:1', keepaliveSec: 60, log, mqtt: { url: `mqtt://127.0.0.1:${port}`, prefix: 'site' } });
  t.teardown(async () => { await s.close(); edge.close(); sub.kill(); mosq.kill(); });
  s.register({ DeviceID: 'edge', DeviceType: '1', ProductType: 'fake', CommandURL: edge.url });
  await s.refreshAlgorithms('edge');
  s.start();
  const r = await s.submit({ TaskName: 'mqtt', TaskType: 1, InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: 'rtsp://cam/1' }], AlgType: 'frame_extraction' } } });
  if (!r.ok) throw new Error(r.message);
  const subtaskId = await waitFor('placed', async () => s.store.subtasks(r.taskId)[0]?.subtask_id);
  const result = (ts: number): TaskResultBody => ({ TaskID: subtaskId, DeviceID: 'edge', DstDeviceList: [], AlgID: 1001, AlgVersion: '1.0.0', Ts: ts, CreateTime: '2026-11-29 12:00:00.00', TaskResultData: {} });
  const send = (ts: number) => s.onTaskResult({ CommandType: 'task_result', CommandIdx: ts, DeviceID: 'edge', MessageBody: result(ts) }, 'node|edge/1');

  const resultsTopic = `site/sched-7/tasks/${r.taskId}/results`;
  const received = () => lines.filter((l) => l.startsWith(`${resultsTopic} `)).map((l) => (JSON.parse(l.slice(resultsTopic.length + 1)) as TaskResultBody).Ts);
  for (let ts = 1; ts <= 10; ts++) send(ts);
  await waitFor('ten results at the subscriber', async () => (received().length >= 10 ? true : undefined), 10_000);
  t.ok(lines.some((l) => l.startsWith(`site/sched-7/tasks/${r.taskId}/status `)), 'status changes are published too');

  // The broker goes away: results wait in the scheduler's database.
  mosq.kill('SIGTERM');
  await new Promise((res) => mosq.once('exit', res));
  for (let ts = 11; ts <= 30; ts++) send(ts);
  s.onTaskStatus({ DeviceID: 'edge', TaskStatusList: [{ TaskID: subtaskId, ExecutionStatus: ExecutionStatus.Done, Progress: 100 }] });
  t.ok(s.mqtt!.backlog() >= 20, `${s.mqtt!.backlog()} messages wait for the broker`);
  mosq = broker(path.join(dir, 'broker'), port);
  await listening(port);
  // A deadline, not a speed bound: both clients reconnect on their own backoff (slower on a loaded box).
  await waitFor('all thirty results at the subscriber', async () => (new Set(received()).size >= 30 ? true : undefined), 60_000);
  t.ok(await s.mqtt!.idle(30_000), 'the backlog drained');
  const got = [...new Set(received())];
  t.strictSame(got, Array.from({ length: 30 }, (_, i) => i + 1), 'every result, in order (QoS 1 may repeat one, never lose one)');
  await waitFor('the final status', async () => (lines.some((l) => l.includes('/status ') && l.includes('"ExecutionStatus":0')) ? true : undefined), 10_000);
  t.pass('the final status (done) arrived after the restart');
});
