/**
 * M4, M5, S3 across a running cluster: where real subtasks land on three real executors. The
 * input's own device wins (data locality: an Inputs[].DeviceID reaches placement); `balanced`
 * (the default) spreads running subtasks one per executor before doubling up; `bin-packing`
 * fills the busy executor first. Each task keeps running (a slow source) so the load is real.
 */
import t from 'tap';
import path from 'node:path';
import { startCluster, waitFor, type Cluster } from '../helpers/cluster.ts';
import { slowSource } from '../helpers/slow-source.ts';
import type { TaskInfo } from '../../src/protocol/index.ts';

async function where(c: Cluster, id: string): Promise<string> {
  return waitFor(`task ${id} placed`, async () => {
    const ti = ((await c.client.send('GET', `${c.scheduler.url}/System/TaskInfo/${id}`)).body as { TaskInfo?: TaskInfo }).TaskInfo;
    const s = ti?.SubtaskInfoList?.[0];
    // Placed and accepted: the executor reports it queued or running.
    return s && [1, 3].includes(s.TaskStatusInfo.ExecutionStatus) && s.TaskExecutor.DeviceID ? s.TaskExecutor.DeviceID : undefined;
  }, 30_000, 100);
}

t.test('M4, M5, S3: locality, balanced and bin-packing placement over three running executors', async (t) => {
  const dir = t.testdir({});
  const c = await startCluster(dir, 3);
  t.teardown(() => c.stop());
  const src = await slowSource(path.join(dir, 'clip.ts'), 120);
  t.teardown(() => src.close());
  const ids: string[] = [];
  const submit = async (o: { strategy?: string; near?: string }) => {
    const r = await c.client.send('POST', `${c.scheduler.url}/System/TaskRequest/`, {
      TaskName: `placement ${o.strategy ?? 'default'}`, TaskType: 1, ...(o.strategy ? { Constraints: { Strategy: o.strategy } } : {}),
      InitiationInfo: { DeviceID: 'placement-test', CustomInfo: { AlgType: 'frame_extraction', TaskFrameRate: 1, Inputs: [{ StreamURL: src.url, ...(o.near ? { DeviceID: o.near } : {}) }] } },
    });
    const id = (r.body as { TaskID?: string }).TaskID;
    if (!id) throw new Error(`refused: ${JSON.stringify(r.body)}`);
    ids.push(id);
    return where(c, id);
  };
  const stopAll = async () => {
    const stopping = ids.splice(0);
    for (const id of stopping) {
      await c.client.command(c.scheduler.url, { CommandType: 'task_ops_control', CommandIdx: c.client.commandIdx(), MessageBody: { OpsControlList: [{ TaskID: id, Control: 1 }] } });
    }
    // Every stopped subtask ends (and stops counting as load) before the next strategy is tried.
    for (const id of stopping) {
      await waitFor(`task ${id} stopped`, async () => {
        const ti = ((await c.client.send('GET', `${c.scheduler.url}/System/TaskInfo/${id}`)).body as { TaskInfo?: TaskInfo }).TaskInfo;
        return ti?.SubtaskInfoList?.every((s) => [0, 4].includes(s.TaskStatusInfo.ExecutionStatus)) ? true : undefined;
      }, 30_000, 100);
    }
  };

  // Locality first: each task names the camera's edge; it runs there even when that edge is the busiest.
  t.equal(await submit({ near: 'edge-3' }), 'edge-3', 'Inputs[].DeviceID edge-3: placed on edge-3');
  t.equal(await submit({ near: 'edge-3' }), 'edge-3', 'again on edge-3 though edge-1 and edge-2 are idle: the data\'s own device outweighs load');
  await stopAll();

  // balanced: three tasks on three executors, one each, then the fourth doubles up.
  const balanced = [await submit({}), await submit({}), await submit({})];
  t.same([...balanced].sort(), ['edge-1', 'edge-2', 'edge-3'], `balanced spreads three running subtasks one per executor: ${balanced.join(', ')}`);
  await stopAll();

  // bin-packing: the first executor used takes the next ones too.
  const packed = [await submit({ strategy: 'bin-packing' }), await submit({ strategy: 'bin-packing' }), await submit({ strategy: 'bin-packing' })];
  t.equal(new Set(packed).size, 1, `bin-packing keeps filling one executor: ${packed.join(', ')}`);
  await stopAll();
});
