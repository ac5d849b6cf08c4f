/**
 * `GET /System/Samples/{Set}` (ours, EC5): a sample set the executor keeps (RDS1, or RDS2 for a
 * feedback set), whole or a byte range (`Range: bytes=n-m`, 206), with its SHA-256
 * (`X-Content-SHA256`) and an ETag, so a fetcher resumes after a cut and checks what it
 * assembled (src/net/ranged-fetch.ts). `POST /System/Samples/{Set}/Feedback` (ours, DC7): the
 * application's rewards for what a device's model did.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { FailureReply, FEEDBACK_MAX_ENTRIES, FeedbackParams, FeedbackReply, FeedbackRequest, Obj, StrMax, Type } from '../../protocol/index.ts';

const SampleBytes = Type.Unsafe<Buffer>({ type: 'string', contentMediaType: 'application/octet-stream' });
/** The set's name, optionally with `.rds` (a StreamURL that names a sample set ends so). */
const SampleParams = Obj({ Set: StrMax(68, { pattern: '^[A-Za-z0-9_-]{1,64}(\\.rds)?$' }) });

/** A feedback body of FEEDBACK_MAX_ENTRIES entries is about 0.6 MB; a little room beyond. */
const FEEDBACK_MAX_BYTES = 1 << 20;

/** What the samples routes need of the executor. */
export interface SamplesApi {
  sampleSet(name: string): { bytes: Buffer; sha256: string } | undefined;
  /** Applies feedback; throws an error with `statusCode` (404 unknown set, 400 a label out of range) naming the field. */
  giveFeedback(name: string, entries: FeedbackRequest['Feedback']): Omit<FeedbackReply, 'StatusCode'>;
}

export function sampleRoutes(api: SamplesApi): FastifyPluginAsync {
  return async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>();
    app.get('/System/Samples/:Set', { config: { access: ['device', 'initiator'] }, schema: { tags: ['samples'], summary: 'A stored sample set (RDS1), whole or a byte range, with its SHA-256', params: SampleParams, response: { 200: SampleBytes, 206: SampleBytes, '4xx': FailureReply } } }, async (req, reply) => {
      const s = api.sampleSet(req.params.Set.replace(/\.rds$/, ''));
      if (!s) return reply.code(404).send({ StatusCode: '1' as const, Message: `Set: no sample set "${req.params.Set}" here` });
      const etag = `"${s.sha256.slice(0, 32)}"`;
      void reply.header('etag', etag).header('x-content-sha256', s.sha256).header('accept-ranges', 'bytes').type('application/octet-stream');
      const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
      const ifRange = req.headers['if-range'];
      if (!m || (ifRange && ifRange !== etag)) return reply.send(s.bytes);
      const start = Number(m[1]);
      const end = m[2] ? Math.min(Number(m[2]), s.bytes.length - 1) : s.bytes.length - 1;
      if (start >= s.bytes.length || end < start) return reply.code(416).header('content-range', `bytes */${s.bytes.length}`).send({ StatusCode: '1' as const, Message: `Range: ${req.headers.range} is outside the ${s.bytes.length} bytes` });
      return reply.code(206).header('content-range', `bytes ${start}-${end}/${s.bytes.length}`).send(s.bytes.subarray(start, end + 1));
    });
    app.post('/System/Samples/:Set/Feedback', { config: { access: ['initiator'] }, bodyLimit: FEEDBACK_MAX_BYTES, schema: { tags: ['samples'], summary: `Rewards (and optionally labels) for results a model gave, by Pts; at most ${FEEDBACK_MAX_ENTRIES} entries`, params: FeedbackParams, body: FeedbackRequest, response: { 200: FeedbackReply, '4xx': FailureReply } } }, async (req) => {
      return { StatusCode: '0' as const, ...api.giveFeedback(req.params.Set, req.body.Feedback) };
    });
  };
}
