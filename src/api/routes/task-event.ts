/** `POST /System/TaskEvent` (ours, M3, SB4): an external system pushes a named event; held tasks waiting for it (CustomInfo.StartOn) start. */
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { FailureReply, TASK_EVENT_MAX_BYTES, TaskEvent, TaskEventReply, type Principal } from '../../protocol/index.ts';
import { principalOf } from '../http-server.ts';

export interface TaskEventApi {
  taskEvent(e: TaskEvent, who: Principal): TaskEventReply;
}

/**
 * The node token or an initiator's (which starts only its own tasks); never a device session,
 * so an executor cannot start tasks by forging events. The body is a few facts: it is bounded.
 */
export function taskEventRoutes(api: TaskEventApi): FastifyPluginAsync {
  return async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>();
    app.post('/System/TaskEvent', {
      config: { access: ['initiator'] }, bodyLimit: TASK_EVENT_MAX_BYTES,
      schema: { tags: ['tasks'], summary: 'Push a named event: tasks held for it (CustomInfo.StartOn.Event) whose When its Data meets start (M3, SB4)', body: TaskEvent, response: { 200: TaskEventReply, '4xx': FailureReply } },
    }, async (req) => api.taskEvent(req.body, principalOf(req)));
  };
}
