/** `POST /System/FeatureSearch` (ours, ED2 retrieval): nearest features among those other executors sent here. */
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { FailureReply, FeatureSearchReply, FeatureSearchRequest, type Static } from '../../protocol/index.ts';

/** What the feature route needs of the executor. */
export interface FeaturesApi {
  featureSearch(q: FeatureSearchRequest): Static<typeof FeatureSearchReply>['Matches'];
}

/** The feature search. */
export function featureRoutes(api: FeaturesApi): FastifyPluginAsync {
  return async (base) => {
    const app = base.withTypeProvider<TypeBoxTypeProvider>();
    app.post('/System/FeatureSearch', { schema: { tags: ['features'], summary: 'Nearest stored features to a vector (ED2 retrieval)', body: FeatureSearchRequest, response: { 200: FeatureSearchReply, '4xx': FailureReply } } },
      async (req) => ({ StatusCode: '0' as const, Matches: api.featureSearch(req.body) }));
  };
}
