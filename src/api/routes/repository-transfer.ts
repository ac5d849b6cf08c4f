/**
 * EC7: `POST /System/AlgorithmRepository/Transfer` — an algorithm/model version moves between
 * this scheduler's repository and a configured peer's (docs/PROTOCOL-EXTENSIONS.md). The body
 * names the peer by DeviceID, never by URL; replies keep to table 18's 128-byte Message.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { FailureReply, TRANSFER_REQUEST_MAX_BYTES, TransferReply, TransferRequest } from '../../protocol/index.ts';
import { failure } from '../http-server.ts';

/** Table 18's Message limit, which these replies keep. */
const MESSAGE_MAX = 128;

/** What the transfer route needs of the scheduler. */
export interface RepositoryTransferApi {
  transfer(r: TransferRequest): Promise<{ ok: true; reply: TransferReply } | { ok: false; status: number; message: string }>;
  closeTransfers(): Promise<void>;
}

export function repositoryTransferRoutes(api: RepositoryTransferApi): FastifyPluginAsync {
  return async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>();
    app.addHook('onClose', () => api.closeTransfers());
    // The node (a peer scheduler asking us to pull, or an operator) or a publisher moves versions; devices may not.
    app.post('/System/AlgorithmRepository/Transfer', {
      config: { access: ['publisher'], messageMaxBytes: MESSAGE_MAX }, bodyLimit: TRANSFER_REQUEST_MAX_BYTES,
      schema: { tags: ['repository'], summary: 'EC7: pull a version from a configured peer\'s repository, or push one to it', body: TransferRequest, response: { 200: TransferReply, '4xx': FailureReply, '5xx': FailureReply } },
    }, async (req, reply) => {
      const out = await api.transfer(req.body);
      if (out.ok) return out.reply;
      return reply.code(out.status).send(failure(out.message, {}, MESSAGE_MAX));
    });
  };
}
