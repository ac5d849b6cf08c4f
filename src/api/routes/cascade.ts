/**
 * Cascade (5.2, B.3 step 3): `POST /System/Cascade/TaskReview` — a lower scheduler, logged in
 * here as a device, forwards a TaskRequest (table 17) for approval before it runs it. The
 * standard names the step but not its interface; this path is the project's addition. The
 * reply is `{ StatusCode, Message }`: "0" approved, "1" refused naming the field and the rule.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { BasicReply, FailureReply, TaskBasicInfo } from '../../protocol/index.ts';

/** What the cascade routes need of the scheduler. */
export interface CascadeApi {
  reviewFromBelow(basic: TaskBasicInfo): { StatusCode: '0' | '1'; Message?: string };
}

export function cascadeRoutes(api: CascadeApi): FastifyPluginAsync {
  return async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>();
    app.post('/System/Cascade/TaskReview', {
      config: { access: ['device'] },
      schema: { tags: ['cascade'], summary: 'B.3: a lower scheduler asks this one to approve a TaskRequest (table 17) before running it', body: TaskBasicInfo, response: { 200: BasicReply, '4xx': FailureReply } },
    }, async (req) => api.reviewFromBelow(req.body));
  };
}
