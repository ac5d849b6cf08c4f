/** Each scorer on its own (M4, M5, SR2), and the strategies that weigh them. */
import t from 'tap';
import { load } from '../../../src/scheduler/placement/scorers/load.ts';
import { headroom } from '../../../src/scheduler/placement/scorers/headroom.ts';
import { locality } from '../../../src/scheduler/placement/scorers/locality.ts';
import { binPacking } from '../../../src/scheduler/placement/scorers/bin-packing.ts';
import { roundRobin } from '../../../src/scheduler/placement/scorers/round-robin.ts';
import { rank } from '../../../src/scheduler/placement/index.ts';
import { cand } from '../../helpers/placement.ts';

const ctx = { seq: 10 };

t.test('M4: load falls with every active subtask', async (t) => {
  t.equal(load.score({}, cand('a', { active: 0 }), ctx), 1);
  t.equal(load.score({}, cand('a', { active: 1 }), ctx), 0.5);
  t.ok(load.score({}, cand('a', { active: 3 }), ctx) < load.score({}, cand('a', { active: 2 }), ctx));
});

t.test('SR2: headroom is idle CPU', async (t) => {
  t.equal(headroom.score({}, cand('a', { availableCpu: 80 }), ctx), 0.8);
});

t.test('M4: locality scores only the data\'s own device', async (t) => {
  t.equal(locality.score({ nearDeviceId: 'a' }, cand('a'), ctx), 1);
  t.equal(locality.score({ nearDeviceId: 'a' }, cand('b'), ctx), 0);
  t.equal(locality.score({}, cand('a'), ctx), 0);
});

t.test('SR2: bin-packing prefers the busier executor', async (t) => {
  t.ok(binPacking.score({}, cand('a', { active: 3, availableCpu: 20 }), ctx) > binPacking.score({}, cand('b', { active: 0, availableCpu: 90 }), ctx));
  t.equal(binPacking.score({}, cand('a', { active: 0, availableCpu: 100 }), ctx), 0);
});

t.test('M5: round robin prefers the never-used, then the least recently used executor', async (t) => {
  t.equal(roundRobin.score({}, cand('a'), ctx), 1, 'never placed');
  t.ok(roundRobin.score({}, cand('a', { lastPlaced: 2 }), ctx) > roundRobin.score({}, cand('b', { lastPlaced: 9 }), ctx));
  t.equal(roundRobin.score({}, cand('a', { lastPlaced: 10 }), ctx), 0, 'just placed');
});

t.test('M4/M5: the strategy named per task picks the scorer set; balanced is the default', async (t) => {
  const busy = cand('busy', { active: 3, availableCpu: 20 });
  const idle = cand('idle', { active: 0, availableCpu: 90 });
  const ids = (r: { ranked: Array<{ device: { device_id: string } }> }) => r.ranked.map((c) => c.device.device_id);
  t.strictSame(ids(rank({}, [busy, idle])), ['idle', 'busy'], 'default: load balancing');
  t.strictSame(ids(rank({ strategy: 'balanced' }, [busy, idle])), ['idle', 'busy']);
  t.strictSame(ids(rank({ strategy: 'bin-packing' }, [busy, idle])), ['busy', 'idle']);
  const recent = cand('recent', { lastPlaced: 9 });
  const older = cand('older', { lastPlaced: 3 });
  t.strictSame(ids(rank({ strategy: 'round-robin' }, [recent, older], 10)), ['older', 'recent']);
  t.strictSame(ids(rank({ strategy: 'bin-packing', nearDeviceId: 'idle' }, [busy, idle])), ['idle', 'busy'], 'locality still outweighs');
});
