/** `GET`/`PUT /System/SchedulingPolicy` (ours, SB5, M3): the operator reads and changes the scheduler's limit on running tasks and their order at run time. */
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { FailureReply, SchedulingPolicyReply, SchedulingPolicyUpdate } from '../../protocol/index.ts';

/** What these routes need of the scheduler. */
export interface SchedulingApi {
  schedulingPolicy(): SchedulingPolicyReply;
  setSchedulingPolicy(u: SchedulingPolicyUpdate): SchedulingPolicyReply;
}

/** The node token only (`access: []`): a policy for every initiator is the operator's to set. */
export function schedulingRoutes(api: SchedulingApi): FastifyPluginAsync {
  return async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>();
    app.get('/System/SchedulingPolicy', { config: { access: [] }, schema: { tags: ['tasks'], summary: 'The limit on tasks running at once and the order waiting tasks start in (SB5, M3)', response: { 200: SchedulingPolicyReply, '4xx': FailureReply } } },
      async () => api.schedulingPolicy());
    app.put('/System/SchedulingPolicy', { config: { access: [] }, schema: { tags: ['tasks'], summary: 'Change MaxConcurrentTasks (null: no limit) or TaskOrder at run time (SB5)', body: SchedulingPolicyUpdate, response: { 200: SchedulingPolicyReply, '4xx': FailureReply } } },
      async (req) => api.setSchedulingPolicy(req.body));
  };
}
