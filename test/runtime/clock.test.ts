/** B4: the executor's clock follows the scheduler's, crediting half the round trip. */
import t from 'tap';
import { CorrectedClock } from '../../src/runtime/clock.ts';
import { isRetinaDateTime } from '../../src/protocol/index.ts';

t.test('offset from one measurement; a much slower sample does not replace a good one', async (t) => {
  const c = new CorrectedClock();
  const local = Date.now();
  c.observe(local + 10_000 + 20, local, local + 40); // reference 10 s ahead, 40 ms round trip
  t.equal(c.offset, 10_000);
  t.ok(Math.abs(c.now() - (Date.now() + 10_000)) < 50);
  c.observe(local + 99_999, local, local + 5_000); // 5 s round trip: ignored
  t.equal(c.offset, 10_000);
  c.observe(local - 500 + 10, local, local + 20); // a good sample moves it
  t.equal(c.offset, -500);
  t.ok(isRetinaDateTime(c.nowDateTime()));
});
