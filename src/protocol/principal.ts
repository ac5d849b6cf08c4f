/**
 * Who is asking (issue 10, item 2): the API authenticates a caller once and every role decides
 * with this, not with headers a caller can choose. Three kinds:
 *  - `node`: holds the node token (or no token is configured: the API is open to all);
 *  - `device`: an executor's session token from Register — it acts only as its own DeviceID;
 *  - `initiator`: configured credentials with a policy of which sources and algorithms its
 *    tasks may use (Annex B.1 b: the scheduler reviews the initiator), and whether it may publish.
 */
import { Arr, Obj, Opt, StrMax, Type, Int32, type Static } from './fields.ts';

/** An initiator's rights, as configured (`--initiators FILE`). */
export const InitiatorPolicy = Obj({
  /** Data sources its tasks may name: URL prefixes (`rtsp://cams.example.net/`, `file:///srv/media/`), or `*`. */
  Sources: Arr(StrMax(512, { minLength: 1 }), { minItems: 1, maxItems: 1000 }),
  /** Algorithms it may run, by AlgID; absent with AlgTypes absent: any. */
  AlgIDs: Opt(Arr(Int32({ minimum: 0 }), { maxItems: 10000 })),
  /** Algorithms it may run, by AlgType. */
  AlgTypes: Opt(Arr(StrMax(64, { minLength: 1 }), { maxItems: 1000 })),
  /** May publish packages to the algorithm repository. */
  Publish: Opt(Type.Boolean()),
});
export type InitiatorPolicy = Static<typeof InitiatorPolicy>;

/** One configured initiator: its name and the SHA-256 (hex) of its bearer token. */
export const InitiatorEntry = Obj({
  Name: StrMax(128, { minLength: 1, pattern: '^[A-Za-z0-9._@-]+$', ruleText: 'must be 1..128 of A-Z a-z 0-9 . _ @ -' }),
  TokenSha256: Type.String({ pattern: '^[0-9a-f]{64}$', ruleText: 'must be the SHA-256 of the token, 64 lowercase hex digits (printf %s TOKEN | sha256sum)' }),
  ...InitiatorPolicy.properties,
});
export type InitiatorEntry = Static<typeof InitiatorEntry>;

/** The `--initiators` file. */
export const InitiatorsFile = Obj({ Initiators: Arr(InitiatorEntry, { maxItems: 10000 }) });
export type InitiatorsFile = Static<typeof InitiatorsFile>;

export type Principal =
  | { kind: 'node' }
  | { kind: 'device'; deviceId: string }
  | { kind: 'initiator'; name: string; policy: InitiatorPolicy };

export type PrincipalKind = Principal['kind'];

/** A stable name for de-duplication and logs: `node`, `device:<id>`, `initiator:<name>`. */
export function principalKey(p: Principal): string {
  return p.kind === 'node' ? 'node' : p.kind === 'device' ? `device:${p.deviceId}` : `initiator:${p.name}`;
}

/** The principal that may do everything (node token, or an API with no token configured). */
export const NODE: Principal = { kind: 'node' };
