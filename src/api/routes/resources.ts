/** `PATCH /System/ResourceInfo/{TotalResource,AvailableResource}` (7.2, tables 4 and 7): executors report what they have. */
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AvailableResource, FailureReply, TotalResource } from '../../protocol/index.ts';
import { OK, actsAs, failure } from '../http-server.ts';

/** What the resource routes need of the scheduler. */
export interface ResourceApi {
  /** False when the reporting device is not registered. */
  reportTotal(r: TotalResource): boolean;
  /** False when the reporting device is not registered. */
  reportAvailable(r: AvailableResource): boolean;
}

/** The two resource reports. */
export function resourceRoutes(api: ResourceApi): FastifyPluginAsync {
  return async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>();
    const replies = { 200: FailureReply, '4xx': FailureReply };
    app.patch('/System/ResourceInfo/TotalResource', { config: { access: ['device'] }, schema: { tags: ['resources'], summary: 'Report an executor\'s TotalResource (table 4)', body: TotalResource, response: replies } }, async (req, reply) => {
      actsAs(req, req.body.DeviceID, 'DeviceID');
      if (!api.reportTotal(req.body)) return reply.code(404).send(failure(`DeviceID: "${req.body.DeviceID}" is not registered`));
      return OK;
    });
    app.patch('/System/ResourceInfo/AvailableResource', { config: { access: ['device'] }, schema: { tags: ['resources'], summary: 'Report an executor\'s AvailableResource (table 7)', body: AvailableResource, response: replies } }, async (req, reply) => {
      actsAs(req, req.body.DeviceID, 'DeviceID');
      if (!api.reportAvailable(req.body)) return reply.code(404).send(failure(`DeviceID: "${req.body.DeviceID}" is not registered`));
      return OK;
    });
  };
}
