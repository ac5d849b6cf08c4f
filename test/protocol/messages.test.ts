/**
 * Property tests of the message model (tables 2–33, A.1–A.2, PROTOCOL.md bodies): generated valid
 * messages round-trip through JSON and validate; each kind of mutation is rejected with an
 * error naming the mutated field.
 */
import t from 'tap';
import fc from 'fast-check';
import * as P from '../../src/protocol/index.ts';
import { arbitraryOf, sitesOf, renderPath, withField, DELETE, wrongTypeFor, oneByteTooLong, outOfRangeFor, type Site } from '../helpers/schema-arbitrary.ts';

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
};

const RUNS = Number(process.env.RETINAD_FC_RUNS ?? 60);

for (const [name, schema] of Object.entries(MESSAGES)) {
  t.test(`${name}: generated valid messages round-trip and validate`, async (t) => {
    let n = 0;
    fc.assert(fc.property(arbitraryOf(schema), (v) => {
      const text = JSON.stringify(v);
      const back = JSON.parse(text);
      const r = P.parse(schema, back);
      if (!r.ok) throw new Error(`valid instance rejected: ${r.message}\n${text}`);
      if (JSON.stringify(r.value) !== text) throw new Error(`round trip changed the message: ${text}`);
      n++;
    }), { numRuns: RUNS });
    t.equal(n, RUNS, `${n} generated messages validated after a JSON round trip`);
  });

  t.test(`${name}: every mutation is rejected naming the field`, async (t) => {
    const kinds = ['wrong-type', 'missing-required', 'one-byte-too-long', 'multibyte-at-boundary', 'out-of-range'] as const;
    const counts: Record<string, number> = {};
    fc.assert(fc.property(arbitraryOf(schema), fc.nat(), fc.constantFrom(...kinds), (v, pick, kind) => {
      const sites = sitesOf(schema, v).filter((s: Site) => {
        if (kind === 'missing-required') return s.required;
        if (kind === 'one-byte-too-long' || kind === 'multibyte-at-boundary') return typeof s.schema.maxBytes === 'number';
        if (kind === 'out-of-range') return outOfRangeFor(s.schema) !== undefined;
        return ['string', 'integer', 'number', 'array', 'object'].includes(String(s.schema.type));
      });
      if (!sites.length) return;
      const site = sites[pick % sites.length];
      const replacement = kind === 'wrong-type' ? wrongTypeFor(site.schema)
        : kind === 'missing-required' ? DELETE
        : kind === 'out-of-range' ? outOfRangeFor(site.schema)
        : oneByteTooLong(site.schema.maxBytes as number, kind === 'multibyte-at-boundary');
      const bad = withField(v, site.path, replacement);
      const r = P.parse(schema, JSON.parse(JSON.stringify(bad)));
      const where = renderPath(site.path);
      if (r.ok) throw new Error(`${kind} at ${where} was accepted: ${JSON.stringify(bad).slice(0, 300)}`);
      if (!r.errors.some((e) => e.path === where)) throw new Error(`${kind} at ${where}: errors name other fields: ${r.message}`);
      counts[kind] = (counts[kind] ?? 0) + 1;
    }), { numRuns: RUNS * 3 });
    t.ok(Object.keys(counts).length > 0, `mutations applied: ${JSON.stringify(counts)}`);
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
