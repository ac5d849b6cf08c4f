/**
 * EM1/S7 liveness: three missed keepalives mark a device offline — but a scheduler that was itself
 * stalled does not blame the devices whose keepalives are still waiting to be read.
 *
 * Time is a mocked clock (node:test MockTimers: Date and setInterval), moved by the test; the
 * liveness check is run the way its interval runs it, once per check period (keepaliveSec / 2).
 * So the margins are exact and nothing depends on how fast this machine is.
 */
import t, { type Test } from 'tap';
import { mock } from 'node:test';
import { pino } from 'pino';
import { Scheduler } from '../../src/scheduler/scheduler.ts';

const lines: string[] = [];
const log = pino({ level: 'info' }, { write: (l: string) => { lines.push(l); } });
const said = (msg: string) => lines.filter((l) => (JSON.parse(l) as { msg: string }).msg === msg).length;
const T0 = Date.UTC(2026, 0, 1);
const PERIOD_MS = 500; // keepaliveSec 1 → checked every 500 ms, offline after 3000 ms of silence

function scheduler(t: Test, devices: string[]): Scheduler {
  // The scheduler's own interval is mocked too and never ticked: the test runs each check itself.
  mock.timers.enable({ apis: ['Date', 'setInterval'], now: T0 });
  const s = new Scheduler({ deviceId: 'sched', dataDir: t.testdir({}), publicUrl: 'http://127.0.0.1:1', keepaliveSec: 1, log });
  for (const d of devices) s.register({ DeviceID: d, DeviceType: '1', ProductType: 'p' });
  s.start();
  t.teardown(async () => { await s.close(); mock.timers.reset(); });
  return s;
}

/** One run of the liveness check, as the monitor interval makes it (a private method: the timer is what calls it). */
const check = (s: Scheduler) => (s as unknown as { checkLiveness(): void }).checkLiveness();

/** Moves the clock on by `ms`, with a liveness check at the end of every period, as a punctual timer would. */
function runFor(s: Scheduler, ms: number): void {
  for (let done = 0; done < ms; done += PERIOD_MS) {
    mock.timers.setTime(Date.now() + PERIOD_MS);
    check(s);
  }
}

const online = (s: Scheduler, id: string) => s.store.device(id)?.online;

t.test('EM1: a device silent for three keepalive intervals goes offline, not before', async (t) => {
  const s = scheduler(t, ['edge-1']);
  lines.length = 0;
  runFor(s, 3000);
  t.equal(online(s, 'edge-1'), 1, 'still online after exactly three intervals (3 s) of silence');
  runFor(s, PERIOD_MS);
  t.equal(online(s, 'edge-1'), 0, 'offline at the first check past them (3.5 s)');
  t.equal(said('device missed 3 keepalives: offline'), 1, 'and that is logged');
});

t.test('S7: after the scheduler stalls, queued keepalives are read before anyone is judged', async (t) => {
  const s = scheduler(t, ['edge-1', 'edge-2']);
  lines.length = 0;
  runFor(s, 1000);
  s.keepalive('edge-1'); // edge-2 never sends
  // The event loop is blocked for 3.5 s: no check runs, and edge-1's next keepalive waits in its
  // socket. After the stall the timer fires first, then the queued keepalive is read.
  mock.timers.setTime(Date.now() + 3500);
  check(s);
  t.equal(said('scheduler was stalled; liveness check deferred'), 1, 'the stall is noticed and logged');
  t.equal(online(s, 'edge-1'), 1, 'edge-1 is not judged by a silence the scheduler caused');
  t.equal(online(s, 'edge-2'), 1, 'nor is anyone else, in that check');
  s.keepalive('edge-1');
  runFor(s, PERIOD_MS);
  t.equal(online(s, 'edge-1'), 1, 'the device that kept sending is still online');
  t.equal(online(s, 'edge-2'), 0, 'the silent one is taken offline at the next check: deferral is not amnesty');
  for (let i = 0; i < 5; i++) { s.keepalive('edge-1'); runFor(s, PERIOD_MS); }
  t.equal(online(s, 'edge-1'), 1, 'and edge-1 stays online while it keeps sending');
  t.equal(said('scheduler was stalled; liveness check deferred'), 1, 'one stall, logged once');
  t.equal(lines.filter((l) => l.includes('"device":"edge-1"') && l.includes('offline')).length, 0, 'edge-1 was never taken offline (its work was not moved)');
});
