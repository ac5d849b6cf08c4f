/** `GET /System/DeviceList` (ours; PROTOCOL.md allows additions): the executors this scheduler knows. */
import type { FastifyPluginAsync } from 'fastify';
import { DeviceListReply } from '../../protocol/index.ts';

/** What the device route needs of the scheduler. */
export interface DevicesApi {
  deviceList(): DeviceListReply;
}

/** The device list. */
export function deviceRoutes(api: DevicesApi): FastifyPluginAsync {
  return async (app) => {
    // Devices read it too: an executor trusts with the node token only executors listed here.
    app.get('/System/DeviceList', { config: { access: ['device'] }, schema: { tags: ['devices'], summary: 'The executors this scheduler knows, with resources and algorithms', response: { 200: DeviceListReply } } }, async () => api.deviceList());
  };
}
