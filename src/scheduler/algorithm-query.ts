/**
 * SR3: one algorithm_res_query to an executor, its answer kept in the registry. Only
 * AlgorithmRefresh calls it, so at most one per device is in flight.
 */
import { AlgorithmResQueryReply, CommandType, HierarchicalQuery } from '../protocol/index.ts';
import type { RetinaClient } from '../net/client.ts';
import type { DeviceRegistry } from './devices.ts';

export async function queryAlgorithms(devices: DeviceRegistry, client: RetinaClient, deviceId: string): Promise<void> {
  const d = devices.row(deviceId);
  if (!d?.command_url) return;
  let reply: AlgorithmResQueryReply;
  try {
    reply = await client.sendCommand(d.command_url, {
      CommandType: CommandType.AlgorithmResQuery, DeviceID: deviceId,
      MessageBody: { DeviceList: [{ DeviceID: deviceId, HierarchicalQuery: HierarchicalQuery.No }] },
    }, AlgorithmResQueryReply);
  } catch (err) {
    throw new Error(`algorithm_res_query to ${deviceId}: ${(err as Error).message}`);
  }
  const mine = reply.AlgResourceList.find((a) => a.DeviceID === deviceId) ?? { DeviceID: deviceId, AlgInfoList: [] };
  devices.setAlgs(deviceId, mine);
}
