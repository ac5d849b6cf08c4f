/**
 * The algorithm model repository (SM3, EC7; ours in its paths): publish a signed `.rpk`, list
 * what is published, and fetch a package by its AlgFileURL.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { FailureReply, PackageParams, PublishReply, RepositoryListReply, Type, type RepositoryEntry } from '../../protocol/index.ts';
import { badRequest, failure } from '../http-server.ts';

/** Largest package accepted for publishing. */
export const PACKAGE_MAX_BYTES = 512 * 1024 * 1024;

/** A package's bytes, as sent (documented for OpenAPI; never serialised). */
const PackageBytes = Type.Unsafe<Buffer>({ type: 'string', contentMediaType: 'application/octet-stream' });

/** What the repository routes need of the scheduler. */
export interface RepositoryApi {
  /** Verifies and stores a package; throws an Error whose message says why it was refused. */
  publish(pkg: Buffer): RepositoryEntry;
  algorithmList(): RepositoryEntry[];
  /** The bytes of a published package, or undefined. */
  algorithmPackage(algId: number, version: string): Buffer | undefined;
}

/** Publish, list and fetch packages. */
export function repositoryRoutes(api: RepositoryApi): FastifyPluginAsync {
  return async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>();
    // Only these routes take raw bytes (the parser is scoped to this plugin).
    app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: PACKAGE_MAX_BYTES }, (_req, body, done) => done(null, body));
    app.post('/System/AlgorithmRepository', { config: { access: ['publisher'] }, bodyLimit: PACKAGE_MAX_BYTES, schema: { tags: ['repository'], summary: 'Publish a signed .rpk package (application/octet-stream)', response: { 200: PublishReply, '4xx': FailureReply } } }, async (req, reply) => {
      if (!Buffer.isBuffer(req.body)) return badRequest(reply, 'body: send the .rpk bytes as application/octet-stream');
      try {
        const e = api.publish(req.body);
        req.log.info({ AlgID: e.AlgID, AlgVersion: e.AlgVersion, signedBy: e.signedBy }, 'algorithm package published');
        return { StatusCode: '0' as const, ...e };
      } catch (err) {
        return reply.code(422).send(failure(`package refused: ${(err as Error).message}`));
      }
    });
    app.get('/System/AlgorithmRepository', { config: { access: ['device', 'initiator'] }, schema: { tags: ['repository'], summary: 'List published packages with their AlgFileURL', response: { 200: RepositoryListReply } } }, async () => ({ StatusCode: '0' as const, AlgorithmList: api.algorithmList() }));
    app.get('/System/AlgorithmRepository/:AlgID/:file', { config: { access: ['device'] }, schema: { tags: ['repository'], summary: 'Fetch a published package (its AlgFileURL)', params: PackageParams, response: { 200: PackageBytes, '4xx': FailureReply } } }, async (req, reply) => {
      const { AlgID, file } = req.params;
      const pkg = api.algorithmPackage(Number(AlgID), file.slice(0, -'.rpk'.length));
      if (!pkg) return reply.code(404).send(failure(`no package AlgID ${AlgID} ${file}`));
      return reply.type('application/octet-stream').send(pkg);
    });
  };
}
