/**
 * EC7: `POST /System/AlgorithmRepository/Transfer` — an algorithm/model version moves between
 * this scheduler's repository and a configured peer's (docs/PROTOCOL-EXTENSIONS.md). The body
 * names the peer by DeviceID, never by URL; replies keep to table 18's 128-byte Message.
 * `POST /System/AlgorithmRepository/Transfer/Upload` is how a lower scheduler pushes a version
 * up, over its own device session.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { FailureReply, TRANSFER_MAX_BYTES, TRANSFER_REQUEST_MAX_BYTES, TransferReply, TransferRequest, TransferUploadQuery, Type, type Principal } from '../../protocol/index.ts';
import { failure, principalOf } from '../http-server.ts';

/** Table 18's Message limit, which these replies keep. */
const MESSAGE_MAX = 128;

type Outcome = { ok: true; reply: TransferReply } | { ok: false; status: number; message: string };

/** The .rpk bytes as sent: any octets (the repository checks them); declared so OpenAPI shows the media type. */
const PackageBody = Type.Unsafe<Buffer>({ contentMediaType: 'application/octet-stream', description: 'the .rpk package' });

const UPLOAD_REFUSED = 'Authorization: only a lower scheduler registered here uploads a version (over its device session)';

/** What the transfer routes need of the scheduler. */
export interface RepositoryTransferApi {
  transfer(r: TransferRequest): Promise<Outcome>;
  /** Whether `who` may upload (a device session of a lower scheduler registered here): asked before the body is read. */
  mayUpload(who: Principal | null): boolean;
  /** A lower scheduler's push up, over its device session. */
  transferUpload(who: Principal, want: { AlgID: number; AlgVersion: string }, pkg: Buffer): Promise<Outcome>;
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
    // Only this route takes raw bytes here (the parser is scoped to this plugin), at most the transfer bound.
    app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: TRANSFER_MAX_BYTES }, (_req, body, done) => done(null, body));
    app.post('/System/AlgorithmRepository/Transfer/Upload', {
      config: { access: ['device'], messageMaxBytes: MESSAGE_MAX }, bodyLimit: TRANSFER_MAX_BYTES,
      // Before the body is read: an executor's session must not make us take in 64 MiB to be refused.
      preParsing: async (req, reply) => {
        if (!api.mayUpload(req.principal)) void reply.code(403).send(failure(UPLOAD_REFUSED, {}, MESSAGE_MAX));
      },
      schema: { tags: ['repository'], summary: 'EC7: a lower scheduler pushes a version up (the .rpk bytes, over its device session)', querystring: TransferUploadQuery, body: PackageBody, response: { 200: TransferReply, '4xx': FailureReply, '5xx': FailureReply } },
    }, async (req, reply) => {
      if (!Buffer.isBuffer(req.body)) return reply.code(400).send(failure('body: send the .rpk bytes as application/octet-stream', {}, MESSAGE_MAX));
      const out = await api.transferUpload(principalOf(req), { AlgID: Number(req.query.AlgID), AlgVersion: req.query.AlgVersion }, req.body);
      if (out.ok) return out.reply;
      return reply.code(out.status).send(failure(out.message, {}, MESSAGE_MAX));
    });
  };
}
