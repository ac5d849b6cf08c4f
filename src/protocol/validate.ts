/**
 * One validator for every message: Ajv compiles the TypeBox schemas, plus the standard's own
 * rules (UTF-8 byte lengths, the datetime and n10,6 formats). A failure names the field by its
 * JSON path (`DstDeviceList[0].DeviceID`) and the rule it broke.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { Static, TSchema } from '@sinclair/typebox';
import { isRetinaDateTime } from './datetime.ts';
import { isLatitude, isLongitude } from './geo.ts';

/** One broken rule, as a client should see it. */
export interface FieldError {
  /** Dotted path of the field, e.g. `MessageBody.TaskDispatchList[0].TaskID`; "(body)" for the root. */
  path: string;
  /** The rule, e.g. `maxBytes`, `required`, `type`, `enum`, `format`. */
  rule: string;
  /** Human text naming the field, the problem and what is allowed. */
  message: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; errors: FieldError[]; message: string };


/** UTF-8 length without allocating for pure-ASCII strings (the common case). */
export function utf8Bytes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) { n += 4; i++; }
    else n += 3; // BMP char, or a lone surrogate (encoded as U+FFFD, 3 bytes)
  }
  return n;
}

/** Cuts `s` to at most `maxBytes` UTF-8 bytes on a code point boundary (for Message, ExceptionDesc). */
export function cutUtf8(s: string, maxBytes: number): string {
  if (s.length <= maxBytes / 3 || utf8Bytes(s) <= maxBytes) return s;
  let out = '';
  let n = 0;
  for (const ch of s) {
    const b = utf8Bytes(ch);
    if (n + b > maxBytes) break;
    out += ch;
    n += b;
  }
  return out;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

// verbose: errors carry their schema, so a schema's own `ruleText` can word the refusal.
const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, allowUnionTypes: true, validateFormats: true, verbose: true });
// `ruleText`: what a field allows, in words, where the keyword's own text would say less (a
// pattern, a minItems) — "limit: must be an integer 1..500", not "must match pattern …".
ajv.addKeyword({ keyword: 'ruleText', schemaType: 'string' });
ajv.addKeyword({
  keyword: 'maxBytes',
  type: 'string',
  schemaType: 'number',
  errors: true,
  validate: function maxBytes(limit: number, data: string): boolean {
    // A string can't be shorter in bytes than in UTF-16 units / 1, nor longer than 3× them.
    if (data.length <= limit / 3) return true;
    const n = utf8Bytes(data);
    if (n <= limit) return true;
    (maxBytes as unknown as { errors: Partial<ErrorObject>[] }).errors = [
      { keyword: 'maxBytes', message: `must be at most ${limit} UTF-8 bytes (is ${n})`, params: { limit, bytes: n } },
    ];
    return false;
  },
});
ajv.addFormat('retina-datetime', { type: 'string', validate: isRetinaDateTime });
ajv.addFormat('longitude', { type: 'string', validate: isLongitude });
ajv.addFormat('latitude', { type: 'string', validate: isLatitude });
ajv.addFormat('base64', { type: 'string', validate: (s: string) => s.length % 4 === 0 && BASE64.test(s) });
// "At least one of these members" (tables 4 and 7: a video format gives its decode or its encode
// capacity, or both). A keyword of its own so the refusal names the members, not an anyOf.
ajv.addKeyword({
  keyword: 'anyRequired',
  type: 'object',
  schemaType: 'array',
  errors: true,
  validate: function anyRequired(names: string[], data: Record<string, unknown>): boolean {
    if (names.some((n) => data[n] !== undefined)) return true;
    (anyRequired as unknown as { errors: Partial<ErrorObject>[] }).errors = [
      { keyword: 'anyRequired', message: `must carry at least one of ${names.join(', ')}`, params: { names } },
    ];
    return false;
  },
});
// "JSON object" columns (AlgArgs, ExtendInfo …) are free-form; their nesting is bounded so that
// a value 4,000 levels deep is refused here rather than overflow a stack later (issue 10).
ajv.addKeyword({
  keyword: 'maxDepth',
  schemaType: 'number',
  errors: true,
  validate: function maxDepth(limit: number, data: unknown): boolean {
    if (within(data, limit)) return true;
    (maxDepth as unknown as { errors: Partial<ErrorObject>[] }).errors = [{ keyword: 'maxDepth', message: `must nest at most ${limit} levels deep`, params: { limit } }];
    return false;
  },
});

/**
 * Whether `v` holds no object deeper than `left` levels (v itself is level 1). Recursion no
 * deeper than the limit, and nothing allocated: every request body with a free-form column is walked.
 */
function within(v: unknown, left: number): boolean {
  if (!v || typeof v !== 'object') return true;
  if (left <= 0) return false;
  if (Array.isArray(v)) {
    for (const x of v) if (!within(x, left - 1)) return false;
    return true;
  }
  for (const k in v) if (Object.hasOwn(v, k) && !within((v as Record<string, unknown>)[k], left - 1)) return false;
  return true;
}
ajv.addFormat('uri-ish', { type: 'string', validate: (s: string) => /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(s) });

const FORMAT_TEXT: Record<string, string> = {
  'retina-datetime': 'a datetime "YYYY-MM-DD hh:mm:ss.ss"',
  longitude: 'a longitude in n10,6 form (e.g. "116.397128", -180..180, 6 decimals)',
  latitude: 'a latitude in n10,6 form (e.g. "39.916527", -90..90, 6 decimals)',
  base64: 'base64 (RFC 4648, padded)',
  'uri-ish': 'a URL with a scheme',
};

function pointerToPath(pointer: string): string[] {
  if (!pointer) return [];
  return pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function renderPath(parts: string[]): string {
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  return out || '(body)';
}

function toFieldError(e: ErrorObject): FieldError {
  const parts = pointerToPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  const worded = (e.parentSchema as { ruleText?: unknown } | undefined)?.ruleText;
  if (typeof worded === 'string' && e.keyword !== 'required') {
    const path = renderPath(parts);
    return { path, rule: e.keyword, message: `${path}: ${worded}` };
  }
  switch (e.keyword) {
    case 'required': {
      const path = renderPath([...parts, String(p.missingProperty)]);
      return { path, rule: 'required', message: `${path}: is required` };
    }
    case 'format': {
      const path = renderPath(parts);
      return { path, rule: 'format', message: `${path}: must be ${FORMAT_TEXT[String(p.format)] ?? String(p.format)}` };
    }
    case 'enum': {
      const path = renderPath(parts);
      const allowed = (p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ');
      return { path, rule: 'enum', message: `${path}: must be one of ${allowed}` };
    }
    case 'type': {
      const path = renderPath(parts);
      return { path, rule: 'type', message: `${path}: must be of type ${String(p.type)}` };
    }
    default: {
      const path = renderPath(parts);
      return { path, rule: e.keyword, message: `${path}: ${e.message ?? e.keyword}` };
    }
  }
}

const cache = new WeakMap<TSchema, ValidateFunction>();

function compiled(schema: TSchema): ValidateFunction {
  let fn = cache.get(schema);
  if (!fn) {
    fn = ajv.compile(schema);
    cache.set(schema, fn);
  }
  return fn;
}

/** Validates `value` against `schema`; on failure lists every broken rule. Never throws on data. */
export function parse<S extends TSchema>(schema: S, value: unknown): Parsed<Static<S>> {
  const fn = compiled(schema);
  if (fn(value)) return { ok: true, value: value as Static<S> };
  // When a required object is missing, ajv reports only that; dedupe identical lines.
  const seen = new Set<string>();
  const errors: FieldError[] = [];
  for (const e of fn.errors ?? []) {
    // An if/then/else schema reports the branch's own errors and then "must match then": noise.
    if (e.keyword === 'if') continue;
    const fe = toFieldError(e);
    if (!seen.has(fe.message)) { seen.add(fe.message); errors.push(fe); }
  }
  return { ok: false, errors, message: errors.map((e) => e.message).join('; ') };
}

/** True when `value` is a valid instance of `schema`. */
export function check<S extends TSchema>(schema: S, value: unknown): value is Static<S> {
  return compiled(schema)(value) as boolean;
}
