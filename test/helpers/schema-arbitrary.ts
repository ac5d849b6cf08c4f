/**
 * fast-check arbitraries derived from the protocol schemas themselves, so property tests cover
 * every field of every message without hand-written generators going stale; plus the list of
 * mutation sites (each field with its rules) for the rejection properties.
 */
import fc from 'fast-check';
import { formatRetinaDateTime, utf8Bytes, type TSchema } from '../../src/protocol/index.ts';

type S = TSchema & Record<string, unknown>;

const asciiChar = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
const wideChar = fc.constantFrom('中', '文', 'é', 'ß', '€', '😀', '日本', 'ж');
const anyChar = fc.oneof({ weight: 4, arbitrary: asciiChar }, { weight: 1, arbitrary: wideChar });

/** Cuts `s` to at most `max` UTF-8 bytes on a code point boundary. */
export function cutBytes(s: string, max: number): string {
  let out = '';
  for (const ch of s) {
    if (utf8Bytes(out + ch) > max) break;
    out += ch;
  }
  return out;
}

function stringArb(s: S): fc.Arbitrary<string> {
  if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as string[]));
  if (s.const !== undefined) return fc.constant(s.const as string);
  const max = (s.maxBytes as number | undefined) ?? 64;
  const min = (s.minLength as number | undefined) ?? 0;
  if (typeof s.pattern === 'string') {
    const re = new RegExp(s.pattern as string);
    return fc.stringMatching(re).map((x) => cutBytes(x, max)).filter((x) => x.length >= min && re.test(x));
  }
  switch (s.format) {
    case 'retina-datetime':
      return fc.integer({ min: Date.UTC(1971, 0, 1), max: Date.UTC(2099, 11, 31) }).map((ms) => formatRetinaDateTime(ms, 0));
    case 'longitude':
      return fc.integer({ min: -180_000_000, max: 180_000_000 }).map((v) => (v / 1e6).toFixed(6));
    case 'latitude':
      return fc.integer({ min: -90_000_000, max: 90_000_000 }).map((v) => (v / 1e6).toFixed(6));
    case 'base64':
      return fc.uint8Array({ maxLength: 48 }).map((b) => Buffer.from(b).toString('base64'));
    case 'uri-ish':
      return fc.tuple(fc.constantFrom('file:///data/', 'rtsp://10.0.0.5:554/', 'http://cam.local/', 'https://x.example/'), fc.stringMatching(/^[a-z0-9]{0,20}$/))
        .map(([a, b]) => cutBytes(a + b, max));
  }
  return fc.array(anyChar, { minLength: min, maxLength: Math.min(max, 40) }).map((cs) => cutBytes(cs.join(''), max)).filter((x) => [...x].length >= min);
}

function integerArb(s: S): fc.Arbitrary<number> {
  if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as number[]));
  return fc.integer({ min: Math.max((s.minimum as number | undefined) ?? -2147483648, Number.MIN_SAFE_INTEGER), max: Math.min((s.maximum as number | undefined) ?? 2147483647, Number.MAX_SAFE_INTEGER) });
}

const jsonLeaf = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean(), fc.constant(null));

/** An arbitrary producing valid instances of `schema`. */
export function arbitraryOf(schema: TSchema, depth = 0): fc.Arbitrary<unknown> {
  const s = schema as S;
  if (s.type === 'string') return stringArb(s);
  if (s.type === 'integer') return integerArb(s);
  if (s.type === 'number') {
    const min = (s.minimum as number | undefined) ?? (s.exclusiveMinimum !== undefined ? (s.exclusiveMinimum as number) + 1e-6 : -1e6);
    return fc.double({ min, max: (s.maximum as number | undefined) ?? 1e6, noNaN: true, noDefaultInfinity: true }).map((x) => (x === 0 ? 0 : x));
  }
  if (s.type === 'array') {
    return fc.array(arbitraryOf(s.items as TSchema, depth + 1), { minLength: (s.minItems as number | undefined) ?? 0, maxLength: Math.max((s.minItems as number | undefined) ?? 0, depth > 2 ? 1 : 3) });
  }
  if (s.type === 'object' && s.patternProperties) {
    return fc.dictionary(fc.stringMatching(/^[A-Za-z]{1,8}$/), jsonLeaf, { maxKeys: 3 });
  }
  if (s.type === 'object') {
    const props = (s.properties ?? {}) as Record<string, TSchema>;
    const required = new Set((s.required as string[] | undefined) ?? []);
    const rec: Record<string, fc.Arbitrary<unknown>> = {};
    for (const [k, v] of Object.entries(props)) rec[k] = arbitraryOf(v, depth + 1);
    // `anyRequired` (tables 4, 7): at least one of the named members, whichever is drawn.
    const anyOf = (s.anyRequired as string[] | undefined) ?? [];
    if (anyOf.length) return fc.constantFrom(...anyOf).chain((k) => fc.record(rec, { requiredKeys: [...required, k] }));
    return fc.record(rec, { requiredKeys: [...required] });
  }
  if (s.type === 'boolean') return fc.boolean();
  // A union (e.g. a condition's Value: string, number or boolean): any one of its members.
  if (Array.isArray(s.anyOf)) return fc.oneof(...(s.anyOf as TSchema[]).map((x) => arbitraryOf(x, depth + 1)));
  return jsonLeaf;
}

/** One field of a concrete instance: where it is and the rules of its schema. */
export interface Site {
  path: Array<string | number>;
  schema: S;
  required: boolean;
}

/** Every field present in `value` (depth first), with its schema. */
export function sitesOf(schema: TSchema, value: unknown, path: Array<string | number> = [], required = true, out: Site[] = []): Site[] {
  const s = schema as S;
  if (path.length) out.push({ path, schema: s, required });
  if (s.type === 'object' && s.properties && value && typeof value === 'object') {
    const req = new Set((s.required as string[] | undefined) ?? []);
    for (const [k, sub] of Object.entries(s.properties as Record<string, TSchema>)) {
      if (k in (value as Record<string, unknown>)) sitesOf(sub, (value as Record<string, unknown>)[k], [...path, k], req.has(k), out);
      else if (req.has(k)) out.push({ path: [...path, k], schema: sub as S, required: true });
    }
  }
  if (s.type === 'array' && Array.isArray(value)) value.forEach((v, i) => sitesOf(s.items as TSchema, v, [...path, i], true, out));
  return out;
}

/** Renders a path the way the validator names fields (`A.B[0].C`). */
export function renderPath(path: Array<string | number>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out || '(body)';
}

/** A deep copy of `value` with the field at `path` replaced (or deleted when `replacement` is DELETE). */
export const DELETE = Symbol('delete');
export function withField(value: unknown, path: Array<string | number>, replacement: unknown): unknown {
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let cur: Record<string | number, unknown> = copy;
  for (const p of path.slice(0, -1)) cur = cur[p] as Record<string | number, unknown>;
  const last = path.at(-1);
  if (last === undefined) throw new Error('withField: an empty path names no field');
  if (replacement === DELETE) delete cur[last];
  else cur[last] = replacement;
  return copy;
}

/** A value of a JSON type the field does not accept. */
export function wrongTypeFor(s: S): unknown {
  switch (s.type) {
    case 'string': return 12345;
    case 'integer': return '7';
    case 'number': return 'seven';
    case 'array': return { not: 'an array' };
    case 'object': return ['not', 'an', 'object'];
    default: return Symbol.for('never');
  }
}

/** A string exactly one byte over the limit, with a multibyte character across the boundary when `multibyte`. */
export function oneByteTooLong(maxBytes: number, multibyte: boolean): string {
  if (!multibyte || maxBytes < 2) return 'a'.repeat(maxBytes + 1);
  // (maxBytes-2) ASCII bytes + one 3-byte character = maxBytes + 1 bytes; fits in characters, not bytes.
  return 'a'.repeat(maxBytes - 2) + '中';
}

/** A value outside an enum or numeric range, or undefined when the field has neither. */
export function outOfRangeFor(s: S): unknown {
  if (Array.isArray(s.enum)) {
    const e = s.enum as Array<string | number>;
    return typeof e[0] === 'number' ? Math.max(...(e as number[])) + 1 : 'Z';
  }
  if (s.type === 'integer' && typeof s.maximum === 'number' && s.maximum < Number.MAX_SAFE_INTEGER) return s.maximum + 1;
  if (s.type === 'integer' && typeof s.minimum === 'number' && s.minimum > Number.MIN_SAFE_INTEGER) return s.minimum - 1;
  return undefined;
}
