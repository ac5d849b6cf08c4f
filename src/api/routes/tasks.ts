/**
 * Tasks at the scheduler: `POST /System/TaskRequest` (9.1, tables 17/18), `PATCH
 * /System/TaskStatus` (9.10, table 32), `GET /System/TaskInfo/{TaskID}` (Annex A) and the
 * `GET /System/TaskTopology/{TaskID}` record its TaskTopology names.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  FailureReply, TaskBasicInfo, TaskHistoryReply, TaskIDParams, TaskInfoReply, TaskTopologyReply, TaskListQuery, TaskListReply, TaskRequestReply, TaskStatusReport, messageMaxBytes,
  type DevTaskStatus, type Principal, type TaskInfo, type TaskTopologyRecord,
} from '../../protocol/index.ts';
import type { SubmitOutcome } from '../../scheduler/scheduler.ts';
import { OK, actsAs, failure, principalOf } from '../http-server.ts';

/** What the task routes need of the scheduler. */
export interface TaskApi {
  /** An initiator's request is reviewed against its policy. */
  submit(basic: TaskBasicInfo, who: Principal): Promise<SubmitOutcome>;
  /** Applies status reports; returns the TaskIDs it does not know. */
  reportStatus(list: DevTaskStatus[]): string[];
  /** Undefined for a task `who` may not see (answered as unknown). */
  taskInfo(taskId: string, who: Principal): TaskInfo | undefined;
  /** S1: the DAG TaskInfo.TaskTopology names; undefined for a task `who` may not see or one without a topology. */
  taskTopology(taskId: string, who: Principal): TaskTopologyRecord | undefined;
  /** The newest tasks `who` may see. */
  taskList(limit: number, who: Principal): TaskListReply;
  /** S4: stops (if running) and deletes a task with its results; false for one `who` may not see. */
  deleteTask(taskId: string, who: Principal): Promise<boolean>;
  /** Status changes of a task and its subtasks; undefined for one `who` may not see. */
  taskHistory(taskId: string, who: Principal): TaskHistoryReply | undefined;
}

/** TaskRequest, TaskStatus reports and TaskInfo. */
export function taskRoutes(api: TaskApi): FastifyPluginAsync {
  return async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>();
    // Table 18: this reply's Message holds at most 128 bytes, failures included.
    const max = messageMaxBytes(TaskRequestReply);
    app.post('/System/TaskRequest', {
      config: { messageMaxBytes: max, access: ['initiator'] },
      schema: { tags: ['tasks'], summary: 'Submit a task (table 17); the reply is table 18 (Message ≤ 128 bytes)', body: TaskBasicInfo, response: { 200: TaskRequestReply, '4xx': TaskRequestReply, 503: TaskRequestReply } },
    }, async (req, reply) => {
      const out = await api.submit(req.body, principalOf(req));
      // Intake full: refused at once (503 + Retry-After) so keepalives and reports keep flowing.
      if (!out.ok && out.busy) return reply.code(503).header('Retry-After', String(out.busy.retryAfterSec)).send(failure(out.message, {}, max));
      if (!out.ok) return reply.code(422).send(failure(out.message, {}, max));
      return { StatusCode: '0' as const, TaskID: out.taskId, Message: 'accepted', ...(out.notifyKey ? { NotifyKey: out.notifyKey } : {}) };
    });

    app.patch('/System/TaskStatus', { config: { access: ['device'] }, schema: { tags: ['tasks'], summary: 'Report subtask status (table 32): one DevTaskStatus or an array', body: TaskStatusReport, response: { 200: FailureReply, '4xx': FailureReply } } }, async (req, reply) => {
      const list = Array.isArray(req.body) ? req.body : [req.body];
      list.forEach((d, i) => actsAs(req, d.DeviceID, Array.isArray(req.body) ? `[${i}].DeviceID` : 'DeviceID'));
      const unknown = api.reportStatus(list);
      if (unknown.length) return reply.code(404).send(failure(`TaskStatusList.TaskID: unknown task(s) ${unknown.slice(0, 5).join(', ')}`));
      return OK;
    });

    app.get('/System/TaskInfo/:TaskID', { config: { access: ['initiator'] }, schema: { tags: ['tasks'], summary: 'A task with its subtasks (Annex A)', params: TaskIDParams, response: { 200: TaskInfoReply, '4xx': FailureReply } } }, async (req, reply) => {
      const info = api.taskInfo(req.params.TaskID, principalOf(req));
      if (!info) return reply.code(404).send(failure(`TaskID: no task "${req.params.TaskID}"`));
      return { StatusCode: '0' as const, TaskInfo: info };
    });

    app.get('/System/TaskTopology/:TaskID', { config: { access: ['initiator'] }, schema: { tags: ['tasks'], summary: 'The task DAG TaskInfo.TaskTopology names: stages, subtasks, edges (S1, table A.1)', params: TaskIDParams, response: { 200: TaskTopologyReply, '4xx': FailureReply } } }, async (req, reply) => {
      const topology = api.taskTopology(req.params.TaskID, principalOf(req));
      if (!topology) return reply.code(404).send(failure(`TaskID: no task "${req.params.TaskID}" with a topology`));
      return { StatusCode: '0' as const, TaskTopology: topology };
    });

    app.delete('/System/TaskInfo/:TaskID', { config: { access: ['initiator'] }, schema: { tags: ['tasks'], summary: 'Delete a task with its subtasks, history and results (S4); a running one is stopped first', params: TaskIDParams, response: { 200: FailureReply, '4xx': FailureReply } } }, async (req, reply) => {
      if (!(await api.deleteTask(req.params.TaskID, principalOf(req)))) return reply.code(404).send(failure(`TaskID: no task "${req.params.TaskID}"`));
      return OK;
    });

    app.get('/System/TaskList', { config: { access: ['initiator'] }, schema: { tags: ['tasks'], summary: 'The newest tasks first (ours; an initiator sees its own)', querystring: TaskListQuery, response: { 200: TaskListReply, '4xx': FailureReply } } },
      async (req) => api.taskList(Number(req.query.limit ?? '100'), principalOf(req)));

    app.get('/System/TaskHistory/:TaskID', { config: { access: ['initiator'] }, schema: { tags: ['tasks'], summary: 'Every status a task and its subtasks went through (ours)', params: TaskIDParams, response: { 200: TaskHistoryReply, '4xx': FailureReply } } }, async (req, reply) => {
      const h = api.taskHistory(req.params.TaskID, principalOf(req));
      if (!h) return reply.code(404).send(failure(`TaskID: no task "${req.params.TaskID}"`));
      return h;
    });
  };
}
