/**
 * The executors this scheduler knows (ours; PROTOCOL.md allows additions): `GET
 * /System/DeviceList`, paged and filtered (SM2 at fleet scale), and `POST /System/DeviceManage`
 * to add, remove, enable or disable them, one or many at once (SM1).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { DeviceListQuery, DeviceListReply, DeviceManageReply, DeviceManageRequest, FailureReply } from '../../protocol/index.ts';

/** What the device routes need of the scheduler. */
export interface DevicesApi {
  deviceList(q: DeviceListQuery): DeviceListReply;
  manageDevices(r: DeviceManageRequest): DeviceManageReply;
}

/** The device list and device management. */
export function deviceRoutes(api: DevicesApi): FastifyPluginAsync {
  return async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>();
    // Devices read it too: an executor trusts with the node token only executors listed here.
    app.get('/System/DeviceList', { config: { access: ['device'] }, schema: { tags: ['devices'], summary: 'The executors this scheduler knows, with resources and algorithms; paged (Next) and filtered', querystring: DeviceListQuery, response: { 200: DeviceListReply, '4xx': FailureReply } } },
      async (req) => api.deviceList(req.query));
    // Operators only (the node token): what the fleet is made of.
    app.post('/System/DeviceManage', { schema: { tags: ['devices'], summary: 'Add, remove, enable or disable executors, one or a batch (SM1); a disabled or removed one\'s subtasks move elsewhere', body: DeviceManageRequest, response: { 200: DeviceManageReply, '4xx': FailureReply } } },
      async (req) => api.manageDevices(req.body));
  };
}
