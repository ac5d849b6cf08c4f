/**
 * Tasks at the scheduler: `POST /System/TaskRequest` (9.1, tables 17/18), `PATCH
 * /System/TaskStatus` (9.10, table 32) and `GET /System/TaskInfo/{TaskID}` (Annex A).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  FailureReply, TaskBasicInfo, TaskIDParams, TaskInfoReply, TaskRequestReply, TaskStatusReport, messageMaxBytes,
  type DevTaskStatus, type TaskInfo,
} from '../../protocol/index.ts';
import type { SubmitOutcome } from '../../scheduler/scheduler.ts';
import { OK, failure } from '../http-server.ts';

/** What the task routes need of the scheduler. */
export interface TaskApi {
  submit(basic: TaskBasicInfo): Promise<SubmitOutcome>;
  /** Applies status reports; returns the TaskIDs it does not know. */
  reportStatus(list: DevTaskStatus[]): string[];
  taskInfo(taskId: string): TaskInfo | undefined;
}

/** TaskRequest, TaskStatus reports and TaskInfo. */
export function taskRoutes(api: TaskApi): FastifyPluginAsync {
  return async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>();
    // Table 18: this reply's Message holds at most 128 bytes, failures included.
    const max = messageMaxBytes(TaskRequestReply);
    app.post('/System/TaskRequest', {
      config: { messageMaxBytes: max },
      schema: { tags: ['tasks'], summary: 'Submit a task (table 17); the reply is table 18 (Message ≤ 128 bytes)', body: TaskBasicInfo, response: { 200: TaskRequestReply, '4xx': TaskRequestReply, 503: TaskRequestReply } },
    }, async (req, reply) => {
      const out = await api.submit(req.body);
      // Intake full: refused at once (503 + Retry-After) so keepalives and reports keep flowing.
      if (!out.ok && out.busy) return reply.code(503).header('Retry-After', String(out.busy.retryAfterSec)).send(failure(out.message, {}, max));
      if (!out.ok) return reply.code(422).send(failure(out.message, {}, max));
      return { StatusCode: '0' as const, TaskID: out.taskId, Message: 'accepted', ...(out.notifyKey ? { NotifyKey: out.notifyKey } : {}) };
    });

    app.patch('/System/TaskStatus', { schema: { tags: ['tasks'], summary: 'Report subtask status (table 32): one DevTaskStatus or an array', body: TaskStatusReport, response: { 200: FailureReply, '4xx': FailureReply } } }, async (req, reply) => {
      const unknown = api.reportStatus(Array.isArray(req.body) ? req.body : [req.body]);
      if (unknown.length) return reply.code(404).send(failure(`TaskStatusList.TaskID: unknown task(s) ${unknown.slice(0, 5).join(', ')}`));
      return OK;
    });

    app.get('/System/TaskInfo/:TaskID', { schema: { tags: ['tasks'], summary: 'A task with its subtasks (Annex A)', params: TaskIDParams, response: { 200: TaskInfoReply, '4xx': FailureReply } } }, async (req, reply) => {
      const info = api.taskInfo(req.params.TaskID);
      if (!info) return reply.code(404).send(failure(`TaskID: no task "${req.params.TaskID}"`));
      return { StatusCode: '0' as const, TaskInfo: info };
    });
  };
}
