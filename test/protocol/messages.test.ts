/**
 * Property tests of the message model (tables 2–33, A.1–A.2, PROTOCOL.md bodies): generated valid
 * messages round-trip through JSON and validate; each kind of mutation is rejected with an
 * error naming the mutated field.
 */
import t from 'tap';
import fc from 'fast-check';
import * as P from '../../src/protocol/index.ts';
import { arbitraryOf, sitesOf, renderPath, withField, DELETE, wrongTypeFor, oneByteTooLong, outOfRangeFor, type Site } from '../helpers/schema-arbitrary.ts';
import { FC_SEED } from '../helpers/seed.ts';

const MESSAGES: Record<string, P.TSchema> = {
  'table 2 total_res_query': P.TotalResQuery,
  'table 3 reply': P.TotalResQueryReply,
  'table 4 TotalResource': P.TotalResource,
  'table 5 available_res_query': P.AvailableResQuery,
  'table 6 reply': P.AvailableResQueryReply,
  'table 7 AvailableResource': P.AvailableResource,
  'table 9/11/33 report reply': P.ReportReply,
  'table 12 algorithm_res_query': P.AlgorithmResQuery,
  'table 13 reply': P.AlgorithmResQueryReply,
  'table 14 AlgResource': P.AlgResource,
  'table 15 ModelInfo': P.ModelInfo,
  'table 17 TaskBasicInfo': P.TaskBasicInfo,
  'table 18 reply': P.TaskRequestReply,
  'table 19 task_dispatch': P.TaskDispatch,
  'table 20 TaskDispatchInfo': P.TaskDispatchInfo,
  'table 21 reply': P.TaskDispatchReply,
  'table 22 task_ops_control': P.TaskOpsControl,
  'table 23 OpsControl': P.OpsControl,
  'table 24 reply': P.TaskOpsControlReply,
  'table 25 task_result': P.TaskResult,
  'table 26 body': P.TaskResultBody,
  'table 27 reply': P.TaskResultReply,
  'table 28 task_status_query': P.TaskStatusQuery,
  'table 29 reply': P.TaskStatusQueryReply,
  'table 30 DevTaskStatus': P.DevTaskStatus,
  'table 31 TaskStatus': P.TaskStatus,
  'table A.1 TaskInfo': P.TaskInfo,
  'table A.2 SubtaskInfo': P.SubtaskInfo,
  'Register': P.RegisterRequest,
  'Register reply': P.RegisterReply,
  'Keepalive': P.KeepaliveRequest,
  'UnRegister': P.UnRegisterRequest,
  'Time reply': P.SystemTimeReply,
  'command envelope': P.CommandEnvelope,
  'CustomInfo': P.CustomInfo,
  'AlgArgs.CoEvolve (ours, EC8)': P.CoEvolve,
};

const RUNS = Number(process.env.RETINAD_FC_RUNS ?? 60);

type S = Site['schema'];
type MutationKind = 'wrong-type' | 'missing-required' | 'one-byte-too-long' | 'multibyte-at-boundary' | 'out-of-range';

/** A field's name with array positions dropped (`A.B[].C`), so fields of different items compare. */
const fieldName = (path: Array<string | number>) => renderPath(path.map((p) => (typeof p === 'number' ? -1 : p))).replace(/\[-1\]/g, '[]');

/** True when the required field at `path` is absent from `v` (sitesOf lists it so it can be deleted). */
function isMissing(v: unknown, path: Array<string | number>): boolean {
  let cur = v as Record<string | number, unknown> | undefined;
  for (const p of path) { if (cur === undefined || cur === null || !(p in cur)) return true; cur = cur[p] as Record<string | number, unknown>; }
  return false;
}

/** Every field the schema defines (the static counterpart of sitesOf), with its rules. */
function fieldsOf(schema: P.TSchema, path: Array<string | number> = [], required = true, out = new Map<string, { schema: S; required: boolean }>()): Map<string, { schema: S; required: boolean }> {
  const s = schema as S;
  if (path.length) out.set(fieldName(path), { schema: s, required });
  if (s.type === 'object' && s.properties) {
    const req = new Set((s.required as string[] | undefined) ?? []);
    for (const [k, sub] of Object.entries(s.properties as Record<string, P.TSchema>)) fieldsOf(sub, [...path, k], req.has(k), out);
  }
  if (s.type === 'array' && s.items) fieldsOf(s.items as P.TSchema, [...path, 0], true, out);
  return out;
}

/**
 * A string field whose byte length can be broken on its own: no enum, const, pattern or
 * date/coordinate/base64 format that an over-long value would fail first (those fields are
 * fixed-form; their format is what bounds them).
 */
const lengthOnly = (s: S) => s.type === 'string' && typeof s.maxBytes === 'number' && !Array.isArray(s.enum) && s.const === undefined && s.pattern === undefined && (s.format === undefined || s.format === 'uri-ish');

/** Whether a mutation kind applies to a field. */
function fits(kind: MutationKind, s: S, required: boolean): boolean {
  if (kind === 'missing-required') return required;
  if (kind === 'one-byte-too-long') return lengthOnly(s);
  if (kind === 'multibyte-at-boundary') return lengthOnly(s) && (s.maxBytes as number) >= 4;
  if (kind === 'out-of-range') return outOfRangeFor(s) !== undefined;
  return ['string', 'integer', 'number', 'array', 'object'].includes(String(s.type));
}

/** A value one byte over the field's limit that breaks no other rule of it (a URL keeps a scheme). */
function tooLong(s: S, multibyte: boolean): string {
  const prefix = s.format === 'uri-ish' ? 'x:' : '';
  return prefix + oneByteTooLong((s.maxBytes as number) - prefix.length, multibyte);
}

for (const [name, schema] of Object.entries(MESSAGES)) {
  t.test(`${name}: generated valid messages round-trip and validate`, async (t) => {
    // The property itself is the assertion (fc.assert throws, naming the seed); what is checked
    // here besides is that the generated messages reach every field of the table, so a field the
    // generator never produced cannot hide behind a passing round trip.
    const seen = new Set<string>();
    fc.assert(fc.property(arbitraryOf(schema), (v) => {
      const text = JSON.stringify(v);
      const back = JSON.parse(text);
      const r = P.parse(schema, back);
      if (!r.ok) throw new Error(`valid instance rejected: ${r.message}\n${text}`);
      if (JSON.stringify(r.value) !== text) throw new Error(`round trip changed the message: ${text}`);
      for (const s of sitesOf(schema, v)) if (!isMissing(v, s.path)) seen.add(fieldName(s.path));
    }), { numRuns: RUNS, seed: FC_SEED });
    const never = [...fieldsOf(schema).keys()].filter((f) => !seen.has(f));
    t.strictSame(never, [], `every field appeared in some of the ${RUNS} messages (seed ${FC_SEED})`);
  });

  t.test(`${name}: every mutation is rejected naming the field`, async (t) => {
    const kinds = ['wrong-type', 'missing-required', 'one-byte-too-long', 'multibyte-at-boundary', 'out-of-range'] as const;
    // The kinds this message has a field for, from the schema rather than from what was drawn.
    const fields = [...fieldsOf(schema).values()];
    const applicable = kinds.filter((k) => fields.some((f) => fits(k, f.schema, f.required)));
    const counts: Record<string, number> = {};
    const noSite: Record<string, number> = {};
    fc.assert(fc.property(arbitraryOf(schema), fc.nat(), fc.constantFrom(...applicable), (v, pick, kind) => {
      const sites = sitesOf(schema, v).filter((s: Site) => fits(kind, s.schema, s.required));
      if (!sites.length) { noSite[kind] = (noSite[kind] ?? 0) + 1; return; } // counted: every kind must still be applied below
      const site = sites[pick % sites.length]!; // sites is not empty (returned above)
      const replacement = kind === 'wrong-type' ? wrongTypeFor(site.schema)
        : kind === 'missing-required' ? DELETE
        : kind === 'out-of-range' ? outOfRangeFor(site.schema)
        : tooLong(site.schema, kind === 'multibyte-at-boundary');
      const bad = withField(v, site.path, replacement);
      const r = P.parse(schema, JSON.parse(JSON.stringify(bad)));
      const where = renderPath(site.path);
      if (r.ok) throw new Error(`${kind} at ${where} was accepted: ${JSON.stringify(bad).slice(0, 300)}`);
      // A length mutation must fail on its length, not on some other rule of the field.
      const rule = kind === 'one-byte-too-long' || kind === 'multibyte-at-boundary' ? 'maxBytes' : undefined;
      if (!r.errors.some((e) => e.path === where && (rule === undefined || e.rule === rule))) throw new Error(`${kind} at ${where}: no ${rule ?? ''} error names it: ${r.message}`);
      counts[kind] = (counts[kind] ?? 0) + 1;
    }), { numRuns: RUNS * 3, seed: FC_SEED });
    t.strictSame(applicable.filter((k) => !counts[k]), [], `every applicable kind was applied: ${JSON.stringify(counts)}; drawn without a site: ${JSON.stringify(noSite)} (seed ${FC_SEED})`);
  });
}

t.test('PROTOCOL.md: a 43-character Chinese TaskName (129 bytes) is too long', async (t) => {
  const r = P.parse(P.TaskBasicInfo, { TaskName: '中'.repeat(43), InitiationInfo: { DeviceID: 'x' } });
  t.notOk(r.ok);
  t.match(!r.ok && r.message, /TaskName: must be at most 128 UTF-8 bytes \(is 129\)/);
  t.ok(P.parse(P.TaskBasicInfo, { TaskName: '中'.repeat(42) + 'ab', InitiationInfo: { DeviceID: 'x' } }).ok, '128 bytes is fine');
});

t.test('unknown extra fields are ignored', async (t) => {
  const r = P.parse(P.KeepaliveRequest, { KeepaliveObject: { DeviceID: 'e1', Vendor: 1 }, Extra: true });
  t.ok(r.ok);
});

t.test('the errors of a broken dispatch name every missing field', async (t) => {
  const r = P.parse(P.TaskDispatch, { CommandType: 'task_dispatch', DeviceID: 'x', MessageBody: { TaskDispatchList: [{}] } });
  t.notOk(r.ok);
  if (!r.ok) t.strictSame(r.errors.map((e) => e.path).sort(), ['TaskAttr', 'TaskID', 'AlgModelInfo', 'InputInfo', 'DstDeviceList'].map((f) => `MessageBody.TaskDispatchList[0].${f}`).sort());
});

// How a refusal reads (found by mutation testing, docs/MUTATION.md): the generated cases above
// check that the right field is named, not the words or the path syntax a client gets.
t.test('a refusal names each field by its JSON path and says what is allowed, one line per broken rule', async (t) => {
  const { Type } = P;
  const S = Type.Object({
    L: Type.Array(Type.Object({ X: Type.Integer() })),
    R: Type.Record(Type.String(), Type.Integer()),
    E: P.StrEnum(['a', 'b'] as const, 1),
    D: P.DateTime(), Lo: P.Longitude(), La: P.Latitude(), B: P.Base64(), U: Type.String({ format: 'uri-ish' }),
    M: P.StrMax(4), N: Type.Object({ Q: Type.String() }), I: Type.Integer({ minimum: 1 }),
    V: Type.Object({ Dec: Type.Optional(Type.Integer()), Enc: Type.Optional(Type.Integer()) }, { anyRequired: ['Dec', 'Enc'] }),
  });
  const bad = {
    L: Array.from({ length: 12 }, (_, i) => ({ X: i === 11 ? 'x' : i })), R: { 'a/b~c': 'no' }, E: 'c', D: '2024-01-01', Lo: '1', La: '2',
    B: 'abc', U: 'nope', M: '中中', N: {}, I: 0, V: {},
  };
  const r = P.parse(S, bad);
  t.notOk(r.ok);
  const lines = [
    'L[11].X: must be of type integer',
    'R.a/b~c: must be of type integer',
    'E: must be one of "a", "b"',
    'D: must be a datetime "YYYY-MM-DD hh:mm:ss.ss"',
    'Lo: must be a longitude in n10,6 form (e.g. "116.397128", -180..180, 6 decimals)',
    'La: must be a latitude in n10,6 form (e.g. "39.916527", -90..90, 6 decimals)',
    'B: must be base64 (RFC 4648, padded)',
    'U: must be a URL with a scheme',
    'M: must be at most 4 UTF-8 bytes (is 6)',
    'N.Q: is required',
    'I: must be >= 1',
    'V: must carry at least one of Dec, Enc',
  ];
  if (!r.ok) {
    t.strictSame(r.errors.map((e) => e.message).sort(), [...lines].sort());
    t.equal(r.message, r.errors.map((e) => e.message).join('; '));
    t.strictSame(r.errors.map((e) => `${e.path} ${e.rule}`).sort(), ['B format', 'D format', 'E enum', 'I minimum', 'L[11].X type', 'La format', 'Lo format', 'M maxBytes', 'N.Q required', 'R.a/b~c type', 'U format', 'V anyRequired'].sort());
  }
  const root = P.parse(S, 5);
  t.strictSame(root.ok ? [] : root.errors, [{ path: '(body)', rule: 'type', message: '(body): must be of type object' }], 'the root is "(body)"');
  t.notOk(P.check(S, bad), 'check() refuses what parse() refuses');
  const good = { L: [{ X: 1 }], R: { k: 1 }, E: 'a', D: '2024-01-01 00:00:00.00', Lo: '116.397128', La: '39.916527', B: 'YWJj', U: 'rtsp://x', M: '中', N: { Q: '' }, I: 1, V: { Enc: 1 } };
  t.ok(P.check(S, good), 'and takes what parse() takes');
  t.strictSame(P.parse(S, good), { ok: true, value: good });
  // Anchors of the path and format patterns: a key that only ends or starts with digits is a
  // name, not an index; base64 and "a URL with a scheme" hold for the whole string.
  const keys = P.parse(S, { ...good, R: { x1: 'no', '1x': 'no' } });
  t.strictSame(keys.ok ? [] : keys.errors.map((e) => e.path).sort(), ['R.1x', 'R.x1']);
  const fmt = (f: string, v: string) => P.check(Type.String({ format: f }), v);
  t.notOk(fmt('base64', '!!!!'), 'four characters, none of them base64');
  t.notOk(fmt('base64', 'YWJj!!!!'));
  t.notOk(fmt('uri-ish', '/x:y'), 'a colon later in the string is not a scheme');
  t.notOk(fmt('uri-ish', ' rtsp://x'));
  // The command envelope's CommandType is never empty (there is no command type "").
  t.notOk(P.check(P.CommandEnvelope, { CommandType: '', MessageBody: {} }));
  t.ok(P.check(P.CommandEnvelope, { CommandType: 'task_result', MessageBody: {} }));
});

t.test('CustomInfo (PROTOCOL.md): each of its rules refuses on its own', async (t) => {
  const ok = { Inputs: [{ StreamURL: 'rtsp://cam/1' }], AlgType: 'ocr', TaskFrameRate: 1, TaskAttr: 0, TimeRange: [{ StartTime: '2024-01-01 00:00:00.00' }],
    Topology: { Stages: [{ Name: 'detect_1', AlgType: 'det' }] }, NotifyURL: 'http://me/n' };
  t.ok(P.check(P.CustomInfo, ok), 'the valid one');
  t.ok(P.check(P.CustomInfo, { ...ok, TaskFrameRate: 1000, Topology: { Stages: Array.from({ length: 8 }, (_, i) => ({ Name: `s${i}` })) } }), 'at the upper bounds');
  const bad: Array<[string, Record<string, unknown>]> = [
    ['Inputs', { Inputs: [] }],
    ['Inputs', { Inputs: [{}] }],
    ['Inputs[0].StreamURL', { Inputs: [{ StreamURL: '' }] }],
    ['Inputs[0].StreamURL', { Inputs: [{ StreamURL: 'cam1' }] }],
    ['AlgType', { AlgType: '' }],
    ['TaskFrameRate', { TaskFrameRate: 0 }],
    ['TaskFrameRate', { TaskFrameRate: 1001 }],
    ['TaskAttr', { TaskAttr: -1 }],
    ['TimeRange[0].EndTime', { TimeRange: [{ EndTime: '2024-01-01' }] }],
    ['Topology.Stages', { Topology: { Stages: [] } }],
    ['Topology.Stages', { Topology: { Stages: Array.from({ length: 9 }, (_, i) => ({ Name: `s${i}` })) } }],
    ['Topology.Stages[0].Name', { Topology: { Stages: [{ Name: '' }] } }],
    ['Topology.Stages[0].Name', { Topology: { Stages: [{ Name: 'a b' }] } }],
    ['Topology.Stages[0].AlgType', { Topology: { Stages: [{ Name: 'a', AlgType: '' }] } }],
    ['Topology.Stages[0].DeviceType', { Topology: { Stages: [{ Name: 'a', DeviceType: '3' }] } }],
    ['NotifyURL', { NotifyURL: 'me/n' }],
  ];
  for (const [field, change] of bad) {
    const r = P.parse(P.CustomInfo, { ...ok, ...change });
    t.ok(!r.ok && r.errors.some((e) => e.path.startsWith(field)), `${JSON.stringify(change)} refused at ${field}`);
  }
});
