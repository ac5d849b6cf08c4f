/** `GET /System/TaskResult/{TaskID}?after=&limit=` (ours): a task's stored results, a page at a time. */
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { FailureReply, TaskIDParams, TaskResultPage, TaskResultQuery, type Principal } from '../../protocol/index.ts';
import { failure, principalOf } from '../http-server.ts';

/** What the results route needs of the scheduler. */
export interface ResultsApi {
  /** Results after cursor `after`, at most `limit`; undefined when the task is unknown (or not `who`'s to see). */
  taskResults(taskId: string, after: number, limit: number, who: Principal): TaskResultPage | undefined;
}

/** The result read-back. */
export function resultRoutes(api: ResultsApi): FastifyPluginAsync {
  return async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>();
    app.get('/System/TaskResult/:TaskID', {
      config: { access: ['initiator'] },
      schema: { tags: ['results'], summary: 'Stored results of a task, a page at a time (cursor `after`, `limit` ≤ 500)', params: TaskIDParams, querystring: TaskResultQuery, response: { 200: TaskResultPage, '4xx': FailureReply } },
    }, async (req, reply) => {
      const page = api.taskResults(req.params.TaskID, Number(req.query.after || '0'), Number(req.query.limit ?? '100'), principalOf(req));
      if (!page) return reply.code(404).send(failure(`TaskID: no task "${req.params.TaskID}"`));
      return page;
    });
  };
}
