/**
 * Routes are schema-first: each declares the protocol schema of its body, params, query and
 * replies, and fastify compiles them once, when the route is added, with the protocol's own
 * validator — so a refusal names the field and the rule exactly as `parse` words it, and a
 * route handler only ever sees a valid value.
 *
 * Replies are written with JSON.stringify (one serialisation, nothing dropped); with
 * `RETINAD_CHECK_REPLIES=1` (the test runner sets it) every reply is also checked against the
 * schema its route declares, so a reply that drifts from its table fails the tests that made it.
 */
import type { FastifyInstance } from 'fastify';
import { parse, type TSchema } from '../protocol/index.ts';

/** A refusal by a route's schema: answered 400 with `Message` = the field and the rule. */
export class SchemaRefusal extends Error {
  readonly statusCode = 400;
  constructor(message: string) {
    super(message);
    this.name = 'SchemaRefusal';
  }
}

const CHECK_REPLIES = process.env.RETINAD_CHECK_REPLIES === '1';

/** Installs the protocol validator and the reply writer on `app` (before any route is added). */
export function installSchemaCompilers(app: FastifyInstance): void {
  // A body's fields are named by their JSON path, a param's or query member's by its own name.
  app.setValidatorCompiler(({ schema }) => (data: unknown) => {
    const p = parse(schema as TSchema, data);
    return p.ok ? { value: p.value } : { error: new SchemaRefusal(p.message) };
  });
  app.setSerializerCompiler(({ schema, method, url, httpStatus }) => {
    if (!CHECK_REPLIES) return (data: unknown) => JSON.stringify(data);
    return (data: unknown) => {
      const p = parse(schema as TSchema, data);
      if (!p.ok) throw new Error(`reply of ${method} ${url} (${httpStatus}) breaks its declared schema: ${p.message}`);
      return JSON.stringify(data);
    };
  });
}
