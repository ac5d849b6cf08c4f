/**
 * EM1/S7 liveness: three missed keepalives mark a device offline — but a scheduler that was itself
 * stalled does not blame the devices whose keepalives are still waiting to be read.
 */
import t from 'tap';
import { pino } from 'pino';
import { Scheduler } from '../../src/scheduler/scheduler.ts';

const lines: string[] = [];
const log = pino({ level: 'info' }, { write: (l: string) => { lines.push(l); } });
const said = (msg: string) => lines.filter((l) => (JSON.parse(l) as { msg: string }).msg === msg).length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const busy = (ms: number) => { const end = Date.now() + ms; while (Date.now() < end) { /* the event loop is blocked */ } };

function scheduler(dir: string): Scheduler {
  const s = new Scheduler({ deviceId: 'sched', dataDir: dir, publicUrl: 'http://127.0.0.1:1', keepaliveSec: 1, log });
  s.register({ DeviceID: 'edge-1', DeviceType: '1', ProductType: 'p' });
  s.start();
  return s;
}

t.test('EM1: a device silent for three keepalive intervals goes offline', async (t) => {
  const s = scheduler(t.testdir({}));
  t.teardown(() => s.close());
  await sleep(1500);
  t.equal(s.store.device('edge-1')?.online, 1, 'still online after 1.5 s of silence');
  await sleep(2500);
  t.equal(s.store.device('edge-1')?.online, 0, 'offline after 4 s of silence');
});

t.test('S7: after the scheduler stalls, queued keepalives are read before anyone is judged', async (t) => {
  const s = scheduler(t.testdir({}));
  t.teardown(() => s.close());
  lines.length = 0;
  await sleep(800);
  s.keepalive('edge-1');
  // The device keeps sending; its keepalive sits in the socket while the scheduler is blocked.
  busy(3500);
  setImmediate(() => s.keepalive('edge-1'));
  await sleep(300);
  t.equal(s.store.device('edge-1')?.online, 1, 'the device that kept sending is still online');
  t.equal(said('device missed 3 keepalives: offline'), 0, 'it was never taken offline (its work was not moved)');
  t.equal(said('scheduler was stalled; liveness check deferred'), 1, 'the stall is logged');
  for (let i = 0; i < 5; i++) { s.keepalive('edge-1'); await sleep(500); }
  t.equal(s.store.device('edge-1')?.online, 1, 'and stays online while it keeps sending');
});
