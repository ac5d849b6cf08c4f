/**
 * EC7's bound on transfers at once (src/scheduler/cascade/transfer.ts): each may hold a package
 * of up to 64 MiB in memory, so at most TRANSFERS_AT_ONCE run; one more is refused with 429
 * naming the limit, not queued, and a slot is free again once a transfer ends, however it ends.
 * The peer is a registered lower scheduler that holds its downloads open.
 */
import t from 'tap';
import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { SchedulerStore } from '../../../src/scheduler/store.ts';
import { DeviceRegistry } from '../../../src/scheduler/devices.ts';
import { AlgorithmRepository } from '../../../src/scheduler/repository.ts';
import { RepositoryTransfer, TRANSFERS_AT_ONCE, type TransferOutcome } from '../../../src/scheduler/cascade/transfer.ts';
import { SCHEDULER_PRODUCT_TYPE } from '../../../src/scheduler/cascade/aggregate.ts';
import { TrustStore } from '../../../src/plugins/keys.ts';
import { waitFor } from '../../helpers/cluster.ts';

t.test('EC7: transfers at once are bounded; one more is refused with 429, and an ended one frees its slot', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'retinad-transfer-'));
  // A lower scheduler whose package downloads start, then hang until released.
  const held: http.ServerResponse[] = [];
  let downloads = 0;
  const peer = http.createServer((req, res) => {
    if (!req.url?.endsWith('.rpk')) { res.statusCode = 404; res.end(); return; }
    downloads++;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '4096' });
    res.write(Buffer.alloc(16));
    held.push(res);
  });
  await new Promise<void>((r) => peer.listen(0, '127.0.0.1', r));
  const store = new SchedulerStore(dir);
  const devices = new DeviceRegistry(store);
  devices.register({ deviceId: 'lower-x', deviceType: '1', productType: SCHEDULER_PRODUCT_TYPE, commandUrl: `http://127.0.0.1:${(peer.address() as { port: number }).port}/System/Command` }, Date.now());
  const transfers = new RepositoryTransfer({ deviceId: 'top', repository: new AlgorithmRepository(path.join(dir, 'repo'), new TrustStore()), devices, upstream: () => null, log: pino({ level: 'silent' }), now: Date.now });
  t.teardown(async () => { for (const r of held) r.destroy(); peer.closeAllConnections(); peer.close(); await transfers.close(); store.close(); });
  const pull = (AlgVersion: string): Promise<TransferOutcome> => transfers.run({ AlgID: 2006, AlgVersion, Peer: 'lower-x', Direction: 'pull' });

  const running = Array.from({ length: TRANSFERS_AT_ONCE }, (_, i) => pull(`1.0.${i}`));
  await waitFor('the transfers under way at the peer', async () => (downloads === TRANSFERS_AT_ONCE ? true : undefined), 10_000);
  const refused = await pull('2.0.0');
  t.match(refused, { ok: false, status: 429, message: new RegExp(`^transfers: ${TRANSFERS_AT_ONCE} already under way here; try again when one has ended`) }, 'one more: 429, naming the limit');
  t.equal(downloads, TRANSFERS_AT_ONCE, 'the refused one reached nobody');

  // The peer cuts its downloads short: those transfers fail (and say so), and free their slots.
  for (const r of held.splice(0)) r.destroy();
  for (const out of await Promise.all(running)) t.match(out, { ok: false, status: 502, message: /^Peer: lower-x: / }, `an ended transfer: ${out.ok ? 'ok' : out.message}`);
  const again = pull('3.0.0');
  await waitFor('a new transfer under way', async () => (downloads === TRANSFERS_AT_ONCE + 1 ? true : undefined), 10_000);
  t.pass('a slot is free again once transfers ended');
  for (const r of held.splice(0)) r.destroy();
  t.match(await again, { ok: false, status: 502 });
});
