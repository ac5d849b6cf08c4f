/**
 * Our schemas held against the standard's own tables (2–33, A.1–A.2), transcribed from the text
 * into test/fixtures/standard-tables.json. messages.test.ts generates messages from our schemas,
 * so it cannot see a schema that departs from the standard; here both the expectations and the
 * messages come from the fixture alone. Every departure left is named in ALLOWED below, with
 * its reason (docs/CONFORMANCE.md, "Deliberate departures"); an allowance that no longer
 * matches a departure fails too, so the list cannot go stale.
 */
import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import * as P from '../../src/protocol/index.ts';
import { defined } from '../helpers/defined.ts';

interface StdEnum { values: Array<string | number>; extensible: boolean; extensionFrom?: number }
interface StdField {
  label: string;
  name: string;
  stdType: string;
  type: 'string' | 'int' | 'long' | 'float' | 'datetime' | 'base64Binary' | 'object' | 'array';
  required: boolean | null;
  length: string;
  maxBytes?: number | null;
  bits?: number;
  remark?: string;
  const?: string;
  enum?: StdEnum;
  range?: { min: number; max: number };
  format?: string;
  items?: 'object' | 'string';
  ref?: string;
  note?: string;
  fields?: StdField[];
}
interface StdTable {
  table: string;
  title: string;
  kind: 'command' | 'reply' | 'object' | 'http';
  describes: string;
  http?: { method: string; uri: string; body: string; bodyRef: string };
  fields?: StdField[];
  constraints?: Array<{ at: string; anyOf: string[]; text: string }>;
}

const FIXTURE = JSON.parse(readFileSync(new URL('../fixtures/standard-tables.json', import.meta.url), 'utf8')) as { tables: StdTable[] };
const TABLES = new Map(FIXTURE.tables.map((x) => [x.table, x]));

/** Table → the exported schema that implements it. */
const SCHEMA_OF: Record<string, P.TSchema> = {
  '2': P.TotalResQuery, '3': P.TotalResQueryReply, '4': P.TotalResource,
  '5': P.AvailableResQuery, '6': P.AvailableResQueryReply, '7': P.AvailableResource,
  '9': P.ReportReply, '11': P.ReportReply,
  '12': P.AlgorithmResQuery, '13': P.AlgorithmResQueryReply, '14': P.AlgResource, '15': P.ModelInfo,
  '17': P.TaskBasicInfo, '18': P.TaskRequestReply,
  '19': P.TaskDispatch, '20': P.TaskDispatchInfo, '21': P.TaskDispatchReply,
  '22': P.TaskOpsControl, '23': P.OpsControl, '24': P.TaskOpsControlReply,
  '25': P.TaskResult, '26': P.TaskResultBody, '27': P.TaskResultReply,
  '28': P.TaskStatusQuery, '29': P.TaskStatusQueryReply, '30': P.DevTaskStatus, '31': P.TaskStatus,
  '33': P.ReportReply,
  'A.1': P.TaskInfo, 'A.2': P.SubtaskInfo,
};

/**
 * Deliberate departures, each recorded in docs/CONFORMANCE.md: `table path rule` → why. Paths
 * are dotted, `[]` for array items, relative to the table that owns the field (a member that
 * reuses another table's schema is checked by that table alone). Rules: extra (a member the
 * table does not have), minLength (we refuse the empty string), maxBytes (a byte limit the table
 * does not give), minItems, range (a numeric bound the table does not give).
 * Not listed because no test can send it: "long 8字节" is held to ±2^53, what a JSON number
 * carries exactly (fields.ts Long).
 */
const WHY = {
  message: 'PROTOCOL.md: every failure reply carries Message (≤512 bytes) naming the field or condition; the table has no Message',
  envelopeDeviceID: 'PROTOCOL.md: every command envelope may name the DeviceID it is meant for; the table has no DeviceID',
  id: 'an empty identifier names nothing: DeviceID, TaskID and the versions that key a package (AlgVersion, ModelVersion) must be non-empty',
  quantity: 'a size, bandwidth or capacity below 0 can only be a bug and would corrupt placement; refused, naming the field',
  emptyList: 'a command with no item to act on is a caller bug; refusing it names the list instead of answering success for nothing',
  taskIdItems: 'the members are task IDs: held to TaskID\'s rules (1–128 bytes)',
  deviceIdItems: 'the members are device IDs (remark: 设备ID列表): held to DeviceID\'s rules (1–20 bytes)',
  notifyKey: 'the key a task\'s NotifyURL pushes are signed with: the scheduler never sends its token to a URL from a request (docs/SECURITY.md)',
  executionProvider: 'where the executor runs the model (ONNX Runtime execution provider, e.g. cuda:0 or cpu) and why, when it is not what the package asked for; table 15 has no field for it and no ExtendInfo',
} as const;
const allow = (why: string, keys: string[]) => Object.fromEntries(keys.map((k) => [k, why]));
const ALLOWED: Record<string, string> = {
  ...allow(WHY.message, ['3', '6', '9', '11', '13', '24', '27', '29', '33'].map((x) => `${x} Message extra`)),
  ...allow(WHY.envelopeDeviceID, ['2', '5', '12', '22', '25', '28'].map((x) => `${x} DeviceID extra`)),
  ...allow(WHY.id, [
    ...['2', '5', '12', '28'].map((x) => `${x} MessageBody.DeviceList[].DeviceID minLength`),
    '4 DeviceID minLength', '7 DeviceID minLength', '14 DeviceID minLength', '14 AlgInfoList[].AlgVersion minLength', '15 ModelVersion minLength',
    '17 InitiationInfo.DeviceID minLength', '19 DeviceID minLength',
    ...['TaskID', 'Dependencies[].TaskID', 'Dependencies[].DeviceID', 'AlgModelInfo.AlgVersion', 'AlgModelInfo.ModelList[].ModelVersion', 'DstDeviceList[].DeviceID'].map((p) => `20 ${p} minLength`),
    '23 DeviceID minLength', '23 TaskID minLength',
    ...['TaskID', 'DeviceID', 'DstDeviceList[].DeviceID', 'AlgVersion', 'ModelList[].ModelVersion'].map((p) => `26 ${p} minLength`),
    '30 DeviceID minLength', '31 TaskID minLength', 'A.1 TaskID minLength', 'A.2 TaskExecutor.DeviceID minLength',
  ]),
  ...allow(WHY.quantity, [
    ...['CommonResource.TotalMemory', 'CommonResource.TotalStorage', 'CommonResource.TotalBandwidth', 'ComputeResource.TotalComputeMemory',
      'VideoProcessResource[].Decoding.MaxPerf', 'VideoProcessResource[].Encoding.MaxPerf'].map((p) => `4 ResourceInfo.${p} range`),
    ...['CommonResource.AvailableMemory', 'CommonResource.AvailableStorage', 'CommonResource.AvailableBandwidth', 'ComputeResource.AvailableComputeMemory',
      'VideoProcessResource[].AvailDecodePerf', 'VideoProcessResource[].AvailEncodePerf'].map((p) => `7 ResourceInfo.${p} range`),
  ]),
  ...allow(WHY.emptyList, ['19 MessageBody.TaskDispatchList minItems', '22 MessageBody.OpsControlList minItems']),
  ...allow(WHY.taskIdItems, ['28 MessageBody.DeviceList[].TaskIDList[] maxBytes', '28 MessageBody.DeviceList[].TaskIDList[] minLength']),
  ...allow(WHY.deviceIdItems, ['A.1 DeviceList[] maxBytes', 'A.1 DeviceList[] minLength']),
  ...allow(WHY.notifyKey, ['18 NotifyKey extra']),
  ...allow(WHY.executionProvider, ['15 ExecutionProvider extra', '15 ExecutionProviderReason extra']),
};

/** A departure found by the structural walk. */
interface Departure { key: string; detail: string }

type S = P.TSchema & Record<string, unknown>;
const INT32 = { min: -2147483648, max: 2147483647 };
const DT = 'YYYY-MM-DD hh:mm:ss.ss';

/** The members of an object field: its own "+" rows, or the rows of the table it refers to. */
function membersOf(f: StdField): StdField[] | undefined {
  if (f.fields) return f.fields;
  if (f.ref) return TABLES.get(f.ref)!.fields;
  return undefined;
}

/** Constraints ("at least one of") of the table `f` refers to, re-rooted at `base`. */
function constraintsAt(table: StdTable | undefined, base: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const c of table?.constraints ?? []) out.set(base ? `${base}.${c.at}` : c.at, c.anyOf);
  return out;
}

// ---- 1. structure: every field, its required-ness, type, byte length, enumeration ----------

function compareField(table: string, path: string, f: StdField, s: S, out: Departure[]): void {
  const dep = (rule: string, detail: string) => out.push({ key: `${table} ${path} ${rule}`, detail: `${path}: ${detail}` });
  const fmt = f.format ?? (f.type === 'datetime' ? DT : undefined);
  switch (f.type) {
    case 'string': case 'datetime': case 'base64Binary': {
      if (s.type !== 'string') { dep('type', `standard ${f.stdType}, ours ${String(s.type)}`); return; }
      if (fmt === DT && s.format !== 'retina-datetime') dep('format', `standard format ${DT}, ours ${String(s.format)}`);
      if (fmt === 'n10,6' && s.format !== 'longitude' && s.format !== 'latitude') dep('format', `standard n10,6, ours ${String(s.format)}`);
      if (f.type === 'base64Binary' && s.format !== 'base64') dep('format', `standard base64Binary, ours ${String(s.format)}`);
      const want = f.type === 'base64Binary' ? undefined : (f.maxBytes ?? undefined);
      if (s.maxBytes !== want) dep('maxBytes', `standard ${want ?? 'no limit'} (${f.length || 'no length'}), ours ${String(s.maxBytes ?? 'no limit')}`);
      if (typeof s.minLength === 'number' && s.minLength > 0) dep('minLength', `ours refuses strings shorter than ${s.minLength}; the standard sets no minimum`);
      if (f.const !== undefined && s.const !== f.const) dep('const', `standard "${f.const}", ours ${JSON.stringify(s.const)}`);
      if (f.enum) compareEnum(f.enum, s, dep);
      else if (Array.isArray(s.enum)) dep('enum', `ours closes the value to ${JSON.stringify(s.enum)}; the standard lists none`);
      return;
    }
    case 'int': case 'long': {
      if (s.type !== 'integer') { dep('type', `standard ${f.stdType}, ours ${String(s.type)}`); return; }
      if (f.enum) { compareEnum(f.enum, s, dep); if (!f.enum.extensible) return; }
      const bound = f.type === 'int' ? INT32 : { min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER };
      const want = f.range ?? (f.enum?.extensionFrom !== undefined ? { min: Math.min(...(f.enum.values as number[])), max: bound.max } : bound);
      if (s.minimum !== want.min || s.maximum !== want.max) {
        dep('range', `standard ${want.min}..${want.max}${f.range ? ` (${f.remark})` : ''}, ours ${String(s.minimum)}..${String(s.maximum)}`);
      }
      return;
    }
    case 'float': {
      if (s.type !== 'number') dep('type', `standard float, ours ${String(s.type)}`);
      else if (s.minimum !== undefined || s.maximum !== undefined) dep('range', `the standard gives no range, ours ${String(s.minimum)}..${String(s.maximum)}`);
      return;
    }
    case 'object': {
      if (s.type !== 'object') { dep('type', `standard object, ours ${String(s.type)}`); return; }
      // A member described by another table is checked once, by that table's own test, when
      // our schema reuses that table's schema.
      if (f.ref && s === SCHEMA_OF[f.ref]) return;
      const members = membersOf(f);
      if (members) {
        if (!s.properties) { dep('type', 'the standard lists members; ours is a free object'); return; }
        compareObject(table, path, members, s, out);
      } else if (s.properties) {
        dep('typed', `the standard leaves this object free; ours types ${Object.keys(s.properties as object).join(', ')}`);
      }
      return;
    }
    case 'array': {
      if (s.type !== 'array') { dep('type', `standard array, ours ${String(s.type)}`); return; }
      if (typeof s.minItems === 'number' && s.minItems > 0) dep('minItems', `ours needs at least ${s.minItems} item(s); the standard sets no minimum`);
      const items = s.items as S;
      if (f.ref && items === SCHEMA_OF[f.ref]) return;
      const members = membersOf(f);
      if (members) {
        if (items.type !== 'object' || !items.properties) dep('type', 'the standard lists item members; ours are not such objects');
        else compareObject(table, `${path}[]`, members, items, out);
      } else if (f.items === 'string') {
        compareField(table, `${path}[]`, { label: '', name: '', stdType: 'string', type: 'string', required: true, length: '', maxBytes: null }, items, out);
      }
      return;
    }
  }
}

function compareEnum(e: StdEnum, s: S, dep: (rule: string, detail: string) => void): void {
  const ours = Array.isArray(s.enum) ? (s.enum as unknown[]) : undefined;
  if (e.extensible) {
    if (ours) dep('enum', `the standard lets ${JSON.stringify(e.values)} be extended; ours closes it to ${JSON.stringify(ours)}`);
    return;
  }
  const same = ours && ours.length === e.values.length && e.values.every((v) => ours.includes(v));
  if (!same) dep('enum', `standard ${JSON.stringify(e.values)}, ours ${JSON.stringify(ours ?? 'open')}`);
}

function compareObject(table: string, base: string, fields: StdField[], s: S, out: Departure[]): void {
  const props = (s.properties ?? {}) as Record<string, S>;
  const required = new Set((s.required as string[] | undefined) ?? []);
  const at = (name: string) => (base ? `${base}.${name}` : name);
  for (const f of fields) {
    const path = at(f.name);
    const sub = props[f.name];
    if (!sub) { out.push({ key: `${table} ${path} missing`, detail: `${path}: the standard has it, ours does not` }); continue; }
    if (f.required !== null && f.required !== required.has(f.name)) {
      out.push({ key: `${table} ${path} required`, detail: `${path}: standard ${f.required ? '必选' : '可选'}, ours ${required.has(f.name) ? 'required' : 'optional'}` });
    }
    if (f.required === null && required.has(f.name)) {
      out.push({ key: `${table} ${path} required`, detail: `${path}: the standard leaves 选择状态 blank (${f.note ?? ''}); ours requires it` });
    }
    compareField(table, path, f, sub, out);
  }
  for (const k of Object.keys(props)) {
    if (!fields.some((f) => f.name === k)) out.push({ key: `${table} ${at(k)} extra`, detail: `${at(k)}: ours has it, the table does not` });
  }
}

for (const table of FIXTURE.tables.filter((x) => x.kind !== 'http')) {
  t.test(`table ${table.table} (${table.describes}): our schema has every field as the standard writes it`, async (t) => {
    const schema = SCHEMA_OF[table.table] as S | undefined;
    if (!schema) { t.fail(`no schema mapped to table ${table.table}`); return; }
    const found: Departure[] = [];
    compareObject(table.table, '', table.fields!, schema, found);
    const unexplained = found.filter((d) => !(d.key in ALLOWED)).map((d) => d.detail);
    t.strictSame(unexplained, [], 'no departure outside the allow-list');
    const stale = Object.keys(ALLOWED).filter((k) => k.startsWith(`${table.table} `) && !found.some((d) => d.key === k));
    t.strictSame(stale, [], 'every allowance of this table still matches a departure');
  });
}

t.test('the HTTP tables (8, 10, 16, 32) name bodies that have a schema', async (t) => {
  for (const table of FIXTURE.tables.filter((x) => x.kind === 'http')) {
    t.ok(SCHEMA_OF[table.http!.bodyRef], `table ${table.table} ${table.http!.method} ${table.http!.uri}: body table ${table.http!.bodyRef} is mapped`);
  }
});

// ---- 2. messages built from the fixture alone --------------------------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = Array<string | number>;

/** A string of exactly `n` UTF-8 bytes that ends in a 3-byte character when it can. */
function bytesLong(n: number): string {
  if (n < 3) return 'a'.repeat(n);
  return 'a'.repeat(n - 3) + '中';
}

/** A valid value for `f`; `full` fills optional members too and strings to their byte limit. */
function valueOf(f: StdField, full: boolean, path: string, anyOf: Map<string, string[]>): Json {
  if (f.const !== undefined) return f.const;
  if (f.enum) return defined(f.enum.values[0], `a value of the enumeration of ${path}`);
  const fmt = f.format ?? (f.type === 'datetime' ? DT : undefined);
  switch (f.type) {
    case 'string': case 'datetime':
      if (fmt === DT) return '2024-05-06 07:08:09.10';
      if (fmt === 'n10,6') return /^Lat/.test(f.name) ? '39.916527' : '116.397128';
      return full && f.maxBytes ? bytesLong(f.maxBytes) : 'x';
    case 'base64Binary': return 'AAECAw==';
    case 'int': return f.range ? f.range.min : 7;
    case 'long': return 1_717_000_000_000;
    case 'float': return 1.5;
    case 'object': {
      const members = membersOf(f);
      return members ? objectOf(members, full, path, f.ref ? constraintsAt(TABLES.get(f.ref), path) : anyOf) : {};
    }
    case 'array': {
      const members = membersOf(f);
      if (members) return [objectOf(members, full, `${path}[]`, f.ref ? constraintsAt(TABLES.get(f.ref), `${path}[]`) : anyOf)];
      return ['x'];
    }
  }
}

function objectOf(fields: StdField[], full: boolean, path: string, anyOf: Map<string, string[]>): { [k: string]: Json } {
  const o: { [k: string]: Json } = {};
  const need = anyOf.get(path) ?? [];
  for (const f of fields) {
    const p = path ? `${path}.${f.name}` : f.name;
    if (full || f.required === true || need[0] === f.name) o[f.name] = valueOf(f, full, p, anyOf);
  }
  return o;
}

/**
 * Every field of a built message with its place in it; `owner` and `local` name the table the
 * field belongs to and its path there (a field reached through a ref belongs to that table).
 */
interface Site { path: Path; dotted: string; owner: string; local: string; f: StdField }
function sitesOf(owner: string, fields: StdField[], value: Json, path: Path = [], dotted = '', local = '', out: Site[] = []): Site[] {
  for (const f of fields) {
    const v = (value as { [k: string]: Json })[f.name];
    const p = [...path, f.name];
    const d = dotted ? `${dotted}.${f.name}` : f.name;
    const l = local ? `${local}.${f.name}` : f.name;
    if (v === undefined) continue;
    out.push({ path: p, dotted: d, owner, local: l, f });
    const members = membersOf(f);
    const [o, base] = f.ref ? [f.ref, ''] : [owner, l];
    if (members && f.type === 'object') sitesOf(o, members, v, p, d, base, out);
    if (members && f.type === 'array') sitesOf(o, members, defined((v as Json[])[0], `an element of ${d}`), [...p, 0], `${d}[]`, f.ref ? '' : `${l}[]`, out);
  }
  return out;
}

/** True when the owning table's allow-list admits `rule` for this field. */
const allowed = (site: Site, rule: string) => `${site.owner} ${site.local} ${rule}` in ALLOWED;

function replaced(value: Json, path: Path, to: Json | undefined): Json {
  const copy = structuredClone(value);
  let cur = copy as Record<string | number, Json>;
  for (const p of path.slice(0, -1)) cur = cur[p] as Record<string | number, Json>;
  const last = path.at(-1);
  if (last === undefined) throw new Error('replaced: an empty path names no field');
  if (to === undefined) delete cur[last];
  else cur[last] = to;
  return copy;
}

function render(path: Path): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

/** One case: a message, whether the standard accepts it, and what it shows. */
interface Case { what: string; value: Json; valid: boolean; names?: string }

function casesFor(table: StdTable): Case[] {
  const anyOf = constraintsAt(table, '');
  const min = objectOf(table.fields!, false, '', anyOf);
  const full = objectOf(table.fields!, true, '', anyOf);
  const cases: Case[] = [
    { what: 'minimal message (required fields only)', value: min, valid: true },
    { what: 'full message (every field, strings at their byte limit)', value: full, valid: true },
    { what: 'an unknown extra member', value: { ...full, VendorExtra: 1 }, valid: true },
  ];
  for (const site of sitesOf(table.table, table.fields!, full)) {
    const { path, dotted, f } = site;
    const where = render(path);
    const at = (what: string, v: Json | undefined, valid: boolean) => cases.push({ what: `${dotted}: ${what}`, value: replaced(full, path, v), valid, names: valid ? undefined : where });
    // Missing: refused when 必选, accepted when 可选 (or left blank, read as optional).
    at('missing', undefined, f.required !== true);
    // Wrong JSON type.
    const wrong: Json = f.type === 'object' ? ['not', 'an', 'object'] : f.type === 'array' ? { not: 'an array' }
      : ['int', 'long', 'float'].includes(f.type) ? '7' : 12345;
    at(`wrong type (${JSON.stringify(wrong)})`, wrong, false);
    if (f.type === 'int') at('a fraction where the standard says int', 1.5, false);
    // Byte length: exactly the limit is in `full`; one more byte is refused.
    if ((f.type === 'string' || f.type === 'datetime') && f.maxBytes) {
      at(`${f.maxBytes + 1} bytes (limit ${f.maxBytes}, ${f.length})`, bytesLong(f.maxBytes + 1), false);
      if (!f.format && !f.enum && !f.const && f.type === 'string') at('the empty string', '', !allowed(site, 'minLength'));
    }
    // Enumerations: outside a closed list is refused; an extensible one takes new values.
    if (f.enum) {
      const vals = f.enum.values;
      if (typeof vals[0] === 'string') at('a value outside the enumeration', 'Z', false);
      else {
        const top = Math.max(...(vals as number[]));
        if (!f.enum.extensible) { at(`${top + 1}, outside the enumeration`, top + 1, false); at('-1, outside the enumeration', -1, false); }
        else {
          at(`${top + 1}, an extension value`, top + 1, true);
          if (f.enum.extensionFrom !== undefined) at(`${f.enum.extensionFrom}, the first extension value`, f.enum.extensionFrom, true);
          else at(`${(vals[0] as number) + 1}, an extension between the listed values`, (vals[0] as number) + 1, true);
          at('2147483647, an extension at the top of int', 2147483647, true);
        }
      }
    }
    if (f.const !== undefined) at('another command type', 'other_command', false);
    if (f.range) {
      at(`${f.range.min - 1}, below ${f.range.min}`, f.range.min - 1, false);
      at(`${f.range.max + 1}, above ${f.range.max}`, f.range.max + 1, false);
      at(`${f.range.max}, the top of the range`, f.range.max, true);
    } else if (f.type === 'int' && !f.enum) {
      at('2147483647, the largest int (4字节)', 2147483647, true);
      at('-2147483648, the smallest int (4字节)', -2147483648, !allowed(site, 'range'));
      at('2147483648, beyond int (4字节)', 2147483648, false);
    }
    if (f.format === DT || f.type === 'datetime') {
      at('a datetime without hundredths', '2024-05-06 07:08:09', false);
      at('a date that does not exist', '2024-02-30 07:08:09.10', false);
    }
  }
  // "At least one of" rules (tables 4, 7).
  for (const [at, names] of anyOf) {
    const parts = at.split('.').map((p) => p.replace('[]', ''));
    const path: Path = [];
    for (const p of at.split('.')) { path.push(p.replace('[]', '')); if (p.endsWith('[]')) path.push(0); }
    let v: Json = full;
    for (const n of names) v = replaced(v, [...path, n], undefined);
    cases.push({ what: `${parts.join('.')}: none of ${names.join(', ')}`, value: v, valid: false, names: render(path) });
  }
  return cases;
}

for (const table of FIXTURE.tables.filter((x) => x.kind !== 'http')) {
  t.test(`table ${table.table} (${table.describes}): messages built from the standard's table are judged as the standard judges them`, async (t) => {
    const schema = defined(SCHEMA_OF[table.table], `our schema of table ${table.table}`);
    const wrong: string[] = [];
    const cases = casesFor(table);
    for (const c of cases) {
      const r = P.parse(schema, JSON.parse(JSON.stringify(c.value)));
      if (c.valid && !r.ok) wrong.push(`accepted by the standard, refused by us: ${c.what} — ${r.message}`);
      if (!c.valid && r.ok) wrong.push(`refused by the standard, accepted by us: ${c.what}`);
      if (!c.valid && !r.ok && c.names && !r.errors.some((e) => e.path === c.names || e.path.startsWith(`${c.names}.`) || e.path.startsWith(`${c.names}[`))) {
        wrong.push(`${c.what}: the refusal does not name ${c.names}: ${r.message}`);
      }
    }
    t.strictSame(wrong, [], `${cases.length} messages judged as the standard judges them`);
  });
}

// ---- 3. random messages from the fixture: optional fields and string contents vary -------

const SEED = Number(process.env.RETINAD_FC_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(process.env.RETINAD_FC_RUNS ?? 40);

const charArb = fc.oneof({ weight: 3, arbitrary: fc.constantFrom('a', 'Z', '0', ' ', '-', '/') }, { weight: 1, arbitrary: fc.constantFrom('中', 'é', '€', '😀') });

/** Any string within `maxBytes` UTF-8 bytes, of at least one character (identifiers stay non-empty). */
function stringArb(maxBytes: number): fc.Arbitrary<string> {
  return fc.array(charArb, { minLength: 1, maxLength: Math.min(maxBytes, 40) }).map((cs) => {
    let s = '';
    for (const c of cs) if (P.utf8Bytes(s + c) <= maxBytes) s += c;
    return s || 'a';
  });
}

function arbOf(f: StdField, path: string, anyOf: Map<string, string[]>): fc.Arbitrary<Json> {
  if (f.const !== undefined) return fc.constant(f.const);
  if (f.enum) {
    const listed = fc.constantFrom(...f.enum.values);
    if (!f.enum.extensible) return listed;
    return fc.oneof(listed, fc.integer({ min: f.enum.extensionFrom ?? Math.min(...(f.enum.values as number[])), max: INT32.max }));
  }
  if (f.range) return fc.integer(f.range);
  if (f.type === 'object' || f.type === 'array') {
    const members = membersOf(f);
    if (!members) return f.type === 'object' ? fc.constant({}) : fc.array(stringArb(20), { maxLength: 3 });
    const p = f.type === 'array' ? `${path}[]` : path;
    const obj = objArb(members, p, f.ref ? constraintsAt(TABLES.get(f.ref), p) : anyOf);
    return f.type === 'object' ? obj : fc.array(obj, { minLength: 1, maxLength: 2 });
  }
  if (f.type === 'string' && !f.format) return stringArb(f.maxBytes ?? 64);
  if (f.type === 'int') return fc.integer({ min: 0, max: INT32.max });
  if (f.type === 'long') return fc.integer({ min: 0, max: 2 ** 52 });
  if (f.type === 'float') return fc.double({ min: 0, max: 1e6, noNaN: true });
  return fc.constant(valueOf(f, false, path, anyOf));
}

function objArb(fields: StdField[], path: string, anyOf: Map<string, string[]>): fc.Arbitrary<Json> {
  const rec: Record<string, fc.Arbitrary<Json>> = {};
  const need = anyOf.get(path) ?? [];
  for (const f of fields) rec[f.name] = arbOf(f, path ? `${path}.${f.name}` : f.name, anyOf);
  const requiredKeys = fields.filter((f) => f.required === true || need[0] === f.name).map((f) => f.name);
  return fc.record(rec, { requiredKeys }) as fc.Arbitrary<Json>;
}

t.test(`random messages built from the tables are accepted (fast-check seed ${SEED}; rerun with RETINAD_FC_SEED=${SEED})`, async (t) => {
  for (const table of FIXTURE.tables.filter((x) => x.kind !== 'http')) {
    const schema = defined(SCHEMA_OF[table.table], `our schema of table ${table.table}`);
    fc.assert(fc.property(objArb(table.fields!, '', constraintsAt(table, '')), (v) => {
      const r = P.parse(schema, v);
      if (!r.ok) throw new Error(`table ${table.table}: ${r.message}\n${JSON.stringify(v).slice(0, 400)}`);
    }), { seed: SEED, numRuns: RUNS });
  }
  t.pass(`${RUNS} random messages per table accepted (seed ${SEED})`);
});

// The named constants code uses (codes.ts: ExecutionStatus.Error, DeviceType.Cloud …) never pass
// through a schema, so the walk above cannot see them; they are held to the tables here (found
// by mutation testing, docs/MUTATION.md).
t.test('the named enumerations of codes.ts hold the tables\' values', async (t) => {
  /** The enumeration of the first field named `dotted` (path inside its table) in any table. */
  const stdEnum = (dotted: string): Array<string | number> => {
    const find = (fs: StdField[] | undefined, pre: string): StdEnum | undefined => {
      for (const f of fs ?? []) {
        const p = pre ? `${pre}.${f.name}` : f.name;
        if (p === dotted && f.enum) return f.enum;
        const inner = find(f.fields, p);
        if (inner) return inner;
      }
      return undefined;
    };
    for (const x of FIXTURE.tables) { const e = find(x.fields, ''); if (e) return e.values; }
    throw new Error(`no enumeration ${dotted} in the fixture`);
  };
  const same = (code: readonly (string | number)[], dotted: string) => t.strictSame([...code].sort(), [...stdEnum(dotted)].sort(), dotted);
  same(Object.values(P.StatusCode), 'StatusCode');
  same(Object.values(P.ExecutionStatus), 'ExecutionStatus');
  same(P.EXECUTION_STATUS_VALUES, 'ExecutionStatus');
  same(Object.values(P.ExceptionCode), 'ExceptionCode');
  same(P.EXCEPTION_CODE_VALUES, 'ExceptionCode');
  same(Object.values(P.Control), 'Control');
  same(P.CONTROL_VALUES, 'Control');
  same(Object.values(P.TaskAttr), 'TaskAttr');
  same(Object.values(P.DeviceType), 'DeviceType');
  same(P.DEVICE_TYPE_VALUES, 'DeviceType');
  same(Object.values(P.AlgStatus), 'AlgInfoList.AlgStatus');
  same(Object.values(P.ResultType), 'TaskResultData.AnalysisResult.Type');
  same(Object.values(P.HierarchicalQuery), 'MessageBody.DeviceList.HierarchicalQuery');
  same(P.HIERARCHICAL_QUERY_VALUES, 'MessageBody.DeviceList.HierarchicalQuery');
  same(P.IS_VALID_VALUES, 'ResourceInfo.IsValid');
  // CommandType: every command table's constant, and the schema tables keyed by it.
  const commandTypes = [...new Set(FIXTURE.tables.flatMap((x) => (x.fields ?? []).filter((f) => f.name === 'CommandType' && f.const).map((f) => f.const!)))].sort();
  t.strictSame([...Object.values(P.CommandType)].sort(), commandTypes, 'CommandType');
  t.strictSame([...P.COMMAND_TYPE_VALUES].sort(), commandTypes);
  t.strictSame(Object.keys(P.COMMAND_SCHEMAS).sort(), commandTypes);
  t.strictSame(Object.keys(P.COMMAND_REPLY_SCHEMAS).sort(), commandTypes);
  for (const x of FIXTURE.tables) {
    const ct = (x.fields ?? []).find((f) => f.name === 'CommandType' && f.const)?.const as keyof typeof P.COMMAND_SCHEMAS | undefined;
    if (!ct) continue;
    const schemas = x.kind === 'reply' ? P.COMMAND_REPLY_SCHEMAS : P.COMMAND_SCHEMAS;
    t.equal(schemas[ct], SCHEMA_OF[x.table], `table ${x.table}: ${x.kind === 'reply' ? 'COMMAND_REPLY_SCHEMAS' : 'COMMAND_SCHEMAS'}.${ct}`);
  }
  // A reply's Message: table 21 gives 512 bytes; the other replies have no Message in their table
  // and carry PROTOCOL.md's (WHY.message above), also 512.
  t.strictSame(P.REPLY_MESSAGE_MAX_BYTES, Object.fromEntries(commandTypes.map((c) => [c, 512])), 'REPLY_MESSAGE_MAX_BYTES');
  // TaskType is clause 6.3's list, numbered 1–10 in PROTOCOL.md's order (no table gives it).
  t.strictSame(Object.values(P.TaskType), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
});
