/** B4: the executor's clock follows the scheduler's, crediting half the round trip. */
import t from 'tap';
import { mock } from 'node:test';
import { CorrectedClock } from '../../src/runtime/clock.ts';
import { formatRetinaDateTime, isRetinaDateTime } from '../../src/protocol/index.ts';

t.test('offset from one measurement; a much slower sample does not replace a good one', async (t) => {
  // The local clock is mocked (node:test MockTimers), so "now" is exact, not within some ms.
  const local = Date.UTC(2026, 5, 1, 12, 0, 0);
  mock.timers.enable({ apis: ['Date'], now: local });
  t.teardown(() => mock.timers.reset());
  const c = new CorrectedClock();
  c.observe(local + 10_000 + 20, local, local + 40); // reference 10 s ahead, 40 ms round trip
  t.equal(c.offset, 10_000);
  mock.timers.tick(1234);
  t.equal(c.now(), local + 1234 + 10_000, 'now() is the local clock plus the offset');
  t.equal(c.nowDateTime(), formatRetinaDateTime(local + 1234 + 10_000), 'and so is the datetime results are stamped with');
  c.observe(local + 99_999, local, local + 5_000); // 5 s round trip: ignored
  t.equal(c.offset, 10_000);
  c.observe(local - 500 + 10, local, local + 20); // a good sample moves it
  t.equal(c.offset, -500);
  t.equal(c.now(), local + 1234 - 500);
  t.ok(isRetinaDateTime(c.nowDateTime()));
});
