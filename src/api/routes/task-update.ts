/** `POST /System/TaskUpdate/{TaskID}` (ours, SB2): update a deployed task on all its executors at once. */
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { FailureReply, TaskIDParams, TaskUpdateReply, TaskUpdateRequest, type Principal } from '../../protocol/index.ts';
import { failure, principalOf } from '../http-server.ts';

export interface TaskUpdateApi {
  /** Undefined for a task `who` may not see (answered as unknown). */
  updateTask(taskId: string, r: TaskUpdateRequest, who: Principal): Promise<TaskUpdateReply | undefined>;
}

export function taskUpdateRoutes(api: TaskUpdateApi): FastifyPluginAsync {
  return async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>();
    app.post('/System/TaskUpdate/:TaskID', {
      config: { access: ['initiator'] },
      schema: { tags: ['tasks'], summary: 'Update a deployed task to another AlgVersion or AlgArgs on all its executors, a few at a time (SB2); an executor that refuses runs the old version on', params: TaskIDParams, body: TaskUpdateRequest, response: { 200: TaskUpdateReply, '4xx': FailureReply } },
    }, async (req, reply) => {
      const out = await api.updateTask(req.params.TaskID, req.body, principalOf(req));
      if (!out) return reply.code(404).send(failure(`TaskID: no task "${req.params.TaskID}"`));
      return out;
    });
  };
}
