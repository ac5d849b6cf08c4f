/**
 * S3/SR1: what placement promises an executor is charged to it until its reports show it, and
 * released when the subtask ends: unit tests of the ledger (an injected clock), placement's
 * filters reading it, and a real scheduler over HTTP with executors that report 3 GB free —
 * two 2 GB subtasks never land on the same one, however the strategy packs.
 */
import t from 'tap';
import { pino } from 'pino';
import { Reservations } from '../../src/scheduler/reservations.ts';
import { place } from '../../src/scheduler/placement/index.ts';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { ExecutionStatus, type AvailableResource } from '../../src/protocol/index.ts';
import { FX, avail, row, view } from '../helpers/placement.ts';
import { waitFor } from '../helpers/cluster.ts';
import { fakeExecutor, type SeenCommand } from '../helpers/fake-executor.ts';

t.test('S3: the ledger charges, moves, releases on end and on a report that shows the subtask running', async (t) => {
  const subs = new Map<string, { device_id: string; status: number }>();
  let now = 0;
  const r = new Reservations((id) => subs.get(id), () => now);
  r.reserve('a', 's1', { memoryBytes: 2e9, decodeUnits: 5 });
  r.reserve('a', 's2', { memoryBytes: 1e9 });
  r.reserve('a', 's0', {});
  t.strictSame(r.held('a'), { memoryBytes: 3e9, decodeUnits: 5 }, 'charges add up; an empty demand is no charge');
  r.reserve('b', 's2', { memoryBytes: 1e9 });
  t.strictSame(r.held('a'), { memoryBytes: 2e9, decodeUnits: 5 }, 'a subtask placed again moves its charge');
  t.strictSame(r.held('b'), { memoryBytes: 1e9, decodeUnits: 0 });
  r.release('b', 's2');
  t.strictSame(r.held('b'), { memoryBytes: 0, decodeUnits: 0 }, 'a failed dispatch releases at once');
  r.ended('s1');
  t.strictSame(r.held('a'), { memoryBytes: 0, decodeUnits: 0 }, 'a subtask that ended releases');

  r.reserve('a', 's3', { memoryBytes: 1 });
  subs.set('s3', { device_id: 'a', status: ExecutionStatus.Queued });
  r.reported('a');
  t.equal(r.held('a').memoryBytes, 1, 'a report while the subtask is still being started does not show it yet: kept');
  subs.set('s3', { device_id: 'a', status: ExecutionStatus.Running });
  r.reported('a');
  t.equal(r.held('a').memoryBytes, 0, 'a report while it runs includes it: the charge ends');

  r.reserve('a', 's4', { memoryBytes: 7 });
  subs.set('s4', { device_id: 'a', status: ExecutionStatus.Error });
  t.equal(r.held('a').memoryBytes, 7, 'an end the ledger was not told of is found on the next check…');
  now += 1000;
  t.equal(r.held('a').memoryBytes, 0, '…within a second');
  t.strictSame(r.devices(), []);
});

t.test('S3/SR1: placement subtracts the charges from the reported memory and decode capacity', async (t) => {
  const GiB = 1024 ** 3;
  // Table 7 reports MB: 3072 MB = 3 GiB.
  const devices = [{ row: row('a'), algs: [FX], listed: true, available: avail({ mem: 3072 }, [30]) }, { row: row('b'), algs: [FX], listed: true, available: avail({ mem: 3072 }, [30]) }];
  const charged: Record<string, { memoryBytes: number; decodeUnits: number }> = { a: { memoryBytes: 2 * GiB, decodeUnits: 0 }, b: { memoryBytes: 0, decodeUnits: 20 } };
  const v = { ...view(devices), reserved: (id: string) => charged[id] ?? { memoryBytes: 0, decodeUnits: 0 } };
  const p = place({ algId: 1001, memoryBytes: 2 * GiB, decodeUnits: 15 }, v);
  t.strictSame(p.ranked.map((c) => c.device.device_id), [], 'neither: a has 1 GB unpromised, b 10 units');
  t.strictSame(p.rejected, [
    { deviceId: 'a', why: 'AvailableMemory 3072 MB (2048 MB of it promised to subtasks placed since), subtask needs 2048 MB' },
    { deviceId: 'b', why: 'AvailDecodePerf 30 (1080P@1FPS units), 20 of it promised to subtasks placed since, subtask needs 15' },
  ]);
  t.strictSame(place({ algId: 1001, memoryBytes: GiB, decodeUnits: 10 }, v).ranked.map((c) => c.device.device_id).sort(), ['a', 'b'], 'what fits the unpromised rest still fits');
});

t.test('S3 end to end: a real scheduler never promises the same memory twice, and frees it when the subtask ends', async (t) => {
  const seen: SeenCommand[] = [];
  const a = await fakeExecutor('edge-a', { seen });
  const b = await fakeExecutor('edge-b', { seen });
  const s = new Scheduler({ deviceId: 'sched', dataDir: t.testdir({}), publicUrl: 'http://127.0.0.1:1', keepaliveSec: 60, log: pino({ level: 'silent' }) });
  t.teardown(async () => { await s.close(); a.close(); b.close(); });
  // Table 7: MB. 3072 MB free on each; each subtask needs 2 GiB.
  const report = (id: string): AvailableResource => ({ DeviceID: id, ResourceInfo: { IsValid: 'Y', CommonResource: { AvailableMemory: 3072 } } });
  for (const [id, url] of [['edge-a', a.url], ['edge-b', b.url]] as const) {
    s.register({ DeviceID: id, DeviceType: '1', ProductType: 'fake', CommandURL: url });
    await s.refreshAlgorithms(id);
    s.reportAvailable(report(id));
  }
  s.start();
  // Bin-packing prefers the fuller executor: without the ledger both would go to the same one.
  const submit = async (name: string) => {
    const r = await s.submit({ TaskName: name, TaskType: 1, Constraints: { Strategy: 'bin-packing', MemoryBytes: 2 * 1024 ** 3 },
      InitiationInfo: { DeviceID: 'i', CustomInfo: { Inputs: [{ StreamURL: `rtsp://cam/${name}` }], AlgType: 'frame_extraction' } } });
    if (!r.ok) return { refused: r.message };
    await waitFor(`${name} placed`, async () => s.store.subtasks(r.taskId)[0]?.device_id);
    return s.store.subtasks(r.taskId)[0]!;
  };
  const placed = async (name: string) => {
    const x = await submit(name);
    if ('refused' in x) throw new Error(`${name} refused: ${x.refused}`);
    return x;
  };
  const refused = async (name: string) => {
    const x = await submit(name);
    if (!('refused' in x)) throw new Error(`${name} was placed on ${x.device_id}`);
    return x.refused;
  };
  const one = await placed('one');
  const two = await placed('two');
  t.not(one.device_id, two.device_id, `2 GB each on executors with 3 GB: ${one.device_id} and ${two.device_id}`);
  t.match(await refused('three'), /^no online executor offers AlgType "frame_extraction" that can take it \(edge-a: AvailableMemory 3072 MB \(2048 MB of it promised/,
    'a third is refused at intake: no executor has 2 GB unpromised, and the reply says why');
  // The first ends: its 2 GB are free again, though the executor has not reported since.
  s.onTaskStatus({ DeviceID: one.device_id, TaskStatusList: [{ TaskID: one.subtask_id, ExecutionStatus: ExecutionStatus.Done, Progress: 100 }] });
  const four = await placed('four');
  t.equal(four.device_id, one.device_id, 'the memory of a finished subtask is placed again');
  // A report taken while the second runs carries its use: its charge ends, the report rules.
  s.onTaskStatus({ DeviceID: two.device_id, TaskStatusList: [{ TaskID: two.subtask_id, ExecutionStatus: ExecutionStatus.Running, Progress: 1 }] });
  s.reportAvailable({ DeviceID: two.device_id, ResourceInfo: { IsValid: 'Y', CommonResource: { AvailableMemory: 1024 } } });
  s.onTaskStatus({ DeviceID: four.device_id, TaskStatusList: [{ TaskID: four.subtask_id, ExecutionStatus: ExecutionStatus.Done, Progress: 100 }] });
  const five = await placed('five');
  t.equal(five.device_id, four.device_id, `the report (1 GB free on ${two.device_id}) now rules, not its charge and the report both: the other executor is chosen`);
  s.onTaskStatus({ DeviceID: five.device_id, TaskStatusList: [{ TaskID: five.subtask_id, ExecutionStatus: ExecutionStatus.Done, Progress: 100 }] });
  s.reportAvailable({ DeviceID: two.device_id, ResourceInfo: { IsValid: 'Y', CommonResource: { AvailableMemory: 2560 } } });
  t.equal((await placed('six')).device_id, two.device_id, 'a report with 2.5 GB free while the second runs: not charged twice, so 2 GiB fit there');
});
