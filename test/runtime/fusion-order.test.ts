/** B6: a fused stage's inputs ordered by Ts within each source, released after every source passed; a late result placed, not appended. */
import t from 'tap';
import { FusionOrder } from '../../src/runtime/fusion-order.ts';
import type { TaskResultBody } from '../../src/protocol/index.ts';

const r = (src: string, ts: number): TaskResultBody => ({ TaskID: src, DeviceID: `dev-${src}`, DstDeviceList: [], AlgID: 1, AlgVersion: '1', Ts: ts, TaskResultData: { AnalysisResult: [{ ResultData: { n: ts } }] } });

t.test('B6: out-of-order arrivals are placed by Ts; a window waits for every source', async (t) => {
  const o = new FusionOrder(['a', 'b'], 1000, 60_000);
  o.add(r('a', 300), 0);
  o.add(r('a', 100), 0); // arrives late within its window: placed before 300
  o.add(r('a', 1200), 0);
  t.strictSame(o.take(0), [], 'b has not gone past the first window: nothing released');
  o.add(r('b', 500), 0);
  o.add(r('b', 1100), 0);
  const out = o.take(0);
  t.equal(out.length, 1, 'the first window, now that both sources passed it');
  t.strictSame(out[0]!.sources.map((s) => [s.TaskID, s.Results.map((x) => x.Ts)]), [['a', [100, 300]], ['b', [500]]]);
  o.add(r('b', 50), 0); // behind a released window
  const rest = o.take(0, true);
  t.strictSame(rest.map((w) => [w.start, w.late]), [[0, true], [1000, false]], 'the straggler comes out marked Late; the final flush releases the rest');
});

t.test('B6: a silent source holds a window at most maxDelayMs', async (t) => {
  const o = new FusionOrder(['a', 'b'], 1000, 5000);
  o.add(r('a', 10), 0);
  o.add(r('a', 2000), 3000);
  t.equal(o.take(4999).length, 0);
  t.equal(o.take(5000).length, 1, 'released after waiting its longest');
});

t.test('B6: a stage\'s inbox places a late result before later ones of its source, keeping arrival order across sources', async (t) => {
  const { placeByTs } = await import('../../src/runtime/fusion-order.ts');
  const inbox = [r('a', 100), r('b', 50), r('a', 300)];
  placeByTs(inbox, r('a', 200));
  placeByTs(inbox, r('b', 10));
  placeByTs(inbox, r('a', 400));
  t.strictSame(inbox.map((x) => `${x.TaskID}${x.Ts}`), ['a100', 'b10', 'b50', 'a200', 'a300', 'a400']);
});
