/** 9.2, tables 2 and 5: an executor applies every filter of a resource query to itself — ProductType, Chip, DriverVersion, the Longitude/Latitude box, ExtendCond — over real HTTP. */
import t from 'tap';
import { startExecutor } from '../helpers/nodes.ts';
import { RetinaClient } from '../../src/net/client.ts';

t.test('9.2: total_res_query and available_res_query filters are applied by the executor to itself (tables 2, 5)', async (t) => {
  const dir = t.testdir({});
  const node = await startExecutor(dir, 'edge-f', { longitude: '116.397128', latitude: '39.916527' });
  const client = new RetinaClient({ senderId: 'test' });
  t.teardown(async () => { await client.close(); await node.close(); });
  const ask = async (CommandType: 'total_res_query' | 'available_res_query', filters: Record<string, unknown>) => {
    const r = await client.command<{ TotalResourceList?: unknown[]; AvailableResourceList?: unknown[] }>(node.url, { CommandType, CommandIdx: client.commandIdx(), MessageBody: filters });
    return (r.TotalResourceList ?? r.AvailableResourceList ?? []).length;
  };
  const inside = { LongitudeMin: '116.000000', LongitudeMax: '117.000000', LatitudeMin: '39.000000', LatitudeMax: '40.000000' };
  const outside = { ...inside, LatitudeMin: '39.950000' };
  for (const q of ['total_res_query', 'available_res_query'] as const) {
    t.equal(await ask(q, {}), 1, `${q}: no filter`);
    t.equal(await ask(q, inside), 1, `${q}: inside the box`);
    t.equal(await ask(q, outside), 0, `${q}: outside the box`);
    t.equal(await ask(q, { ProductType: 'retinad-executor' }), 1, `${q}: its ProductType`);
    t.equal(await ask(q, { ProductType: 'camera' }), 0, `${q}: another ProductType`);
    t.equal(await ask(q, { Chip: 'no-such-chip' }), 0, `${q}: a Chip it does not have`);
    t.equal(await ask(q, { ExtendCond: { Zone: 'north' } }), 0, `${q}: an ExtendCond its ExtendInfo does not meet`);
  }
});
