/** `GET`/`PUT /System/ExecutorPolicy` on an executor (ours, SB5): the operator reads and changes its limit on tasks running at once. */
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ExecutorPolicyReply, ExecutorPolicyUpdate, FailureReply } from '../../protocol/index.ts';
import { failure } from '../http-server.ts';

/** What these routes need of the executor. */
export interface ExecutorPolicyApi {
  taskLimit: { max: number; running: number };
  setMaxRunningTasks(n: number): void;
  /** Leader fencing (X-Retinad-Epoch), as for commands: a change from a deposed leader is refused. */
  admitEpoch?(header: string | string[] | undefined): { status: number; message: string } | null;
}

/** The node token only (`access: []`). */
export function executorPolicyRoutes(api: ExecutorPolicyApi): FastifyPluginAsync {
  const reply = (): ExecutorPolicyReply => ({ StatusCode: '0', ExecutorPolicy: { MaxRunningTasks: api.taskLimit.max, RunningTasks: api.taskLimit.running } });
  return async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>();
    app.get('/System/ExecutorPolicy', { config: { access: [] }, schema: { tags: ['tasks'], summary: 'This executor\'s limit on tasks running at once (SB5)', response: { 200: ExecutorPolicyReply, '4xx': FailureReply } } },
      async () => reply());
    app.put('/System/ExecutorPolicy', {
      config: { access: [] },
      preHandler: async (req, res) => {
        const fenced = api.admitEpoch?.(req.headers['x-retinad-epoch']);
        if (fenced) return res.code(fenced.status).send(failure(fenced.message));
      },
      schema: { tags: ['tasks'], summary: 'Change this executor\'s limit on tasks running at once (SB5); a raised limit starts queued tasks now', body: ExecutorPolicyUpdate, response: { 200: ExecutorPolicyReply, '4xx': FailureReply } } },
      async (req) => { api.setMaxRunningTasks(req.body.MaxRunningTasks); return reply(); });
  };
}
