/**
 * Initiators (issue 10 item 2; Annex B.1 b "the scheduler reviews the initiator"): configured
 * credentials, each with a policy of which data sources and algorithms its tasks may use and
 * whether it may publish packages. Tokens are kept as SHA-256 digests only, so the file holds no
 * usable secret.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { InitiatorsFile, parse, type CustomInfo, type InitiatorEntry, type InitiatorPolicy, type Principal } from '../protocol/index.ts';

export class Initiators {
  private readonly byDigest = new Map<string, InitiatorEntry>();

  constructor(entries: InitiatorEntry[] = []) {
    for (const e of entries) this.byDigest.set(e.TokenSha256, e);
  }

  /** Reads and validates an initiators file (YAML or JSON); throws naming the field and the rule. */
  static load(file: string): Initiators {
    let doc: unknown;
    try {
      doc = parseYaml(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`--initiators ${file}: ${(err as Error).message}`);
    }
    const p = parse(InitiatorsFile, doc);
    if (!p.ok) throw new Error(`--initiators ${file}: ${p.message}`);
    const names = new Set<string>();
    for (const e of p.value.Initiators) {
      if (names.has(e.Name)) throw new Error(`--initiators ${file}: Initiators.Name "${e.Name}" appears twice`);
      names.add(e.Name);
    }
    return new Initiators(p.value.Initiators);
  }

  get size(): number {
    return this.byDigest.size;
  }

  /** The policy of the initiator named `name` (cascade B.3: a lower scheduler names the initiator it forwards a request for). */
  policyOf(name: string): InitiatorPolicy | undefined {
    for (const e of this.byDigest.values()) if (e.Name === name) { const { Name: _n, TokenSha256: _d, ...policy } = e; return policy; }
    return undefined;
  }

  /** The initiator this bearer token belongs to, if any (looked up by digest: no secret comparison to time). */
  authenticate(token: string): Principal | undefined {
    const e = this.byDigest.get(createHash('sha256').update(token).digest('hex'));
    if (!e) return undefined;
    const { Name, TokenSha256: _digest, ...policy } = e;
    return { kind: 'initiator', name: Name, policy };
  }
}

/**
 * A URL with its path's `.` and `..` segments resolved (also when spelled `%2e`), host
 * lower-cased, so no spelling slips past a prefix. The path is resolved here, not by `new URL`:
 * Node 20's parser leaves `..` unresolved after a segment that starts with a dot
 * (`file:///srv/.cache/x/../y` stays as it is).
 */
function normal(url: string): string {
  let u: URL;
  try { u = new URL(url); } catch { return url; }
  const dotted = u.pathname.replace(/%2e/gi, '.');
  const resolved = path.posix.normalize(dotted.startsWith('/') ? dotted : `/${dotted}`);
  const keepSlash = dotted.endsWith('/') && !resolved.endsWith('/') ? '/' : '';
  return `${u.protocol}//${u.host.toLowerCase()}${resolved}${keepSlash}${u.search}`;
}

/** Whether `url` is one of the policy's sources: `*`, or a prefix that ends at a path boundary. */
function sourceAllowed(policy: InitiatorPolicy, raw: string): boolean {
  const url = normal(raw);
  return policy.Sources.map((s) => (s === '*' ? s : normal(s))).some((s) => s === '*' || (url.startsWith(s) && (s.endsWith('/') || url.length === s.length || '/?#'.includes(url.charAt(s.length)))));
}

function algorithmAllowed(policy: InitiatorPolicy, algId: number | undefined, algType: string | undefined): boolean {
  if (!policy.AlgIDs && !policy.AlgTypes) return true;
  if (algId !== undefined) return policy.AlgIDs?.includes(algId) ?? false;
  return algType !== undefined && (policy.AlgTypes?.includes(algType) ?? false);
}

/** The review of an initiator's request: null when its policy allows every source and algorithm, else why not. */
export function reviewInitiator(name: string, policy: InitiatorPolicy, custom: CustomInfo): string | null {
  for (const [i, input] of custom.Inputs.entries()) {
    if (!sourceAllowed(policy, input.StreamURL)) return `InitiationInfo.CustomInfo.Inputs[${i}].StreamURL: not a source initiator "${name}" may use`;
  }
  const stages = custom.Topology?.Stages ?? [];
  const algs = stages.length
    ? stages.map((st) => ({ id: st.AlgID ?? custom.AlgID, type: st.AlgType ?? (st.AlgID === undefined ? custom.AlgType : undefined), where: `Topology stage "${st.Name}"` }))
    : [{ id: custom.AlgID, type: custom.AlgType, where: 'InitiationInfo.CustomInfo' }];
  for (const a of algs) {
    if (!algorithmAllowed(policy, a.id, a.type)) return `${a.where}: ${a.id !== undefined ? `AlgID ${a.id}` : `AlgType "${a.type ?? ''}"`} is not an algorithm initiator "${name}" may use`;
  }
  // EC8: a co-evolving task's rounds run its teacher under this initiator: asked here, not when a round is refused.
  const teacher = (custom.AlgArgs?.CoEvolve as { TeacherAlgID?: unknown } | undefined)?.TeacherAlgID;
  if (typeof teacher === 'number' && !algorithmAllowed(policy, teacher, undefined)) return `InitiationInfo.CustomInfo.AlgArgs.CoEvolve.TeacherAlgID: AlgID ${teacher} is not an algorithm initiator "${name}" may use`;
  return null;
}
